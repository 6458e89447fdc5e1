#!/bin/sh
# Regenerates goldens.tsv: the corpus is written by the Go test TestWriteGoldenCorpus, then
# encoded by sentencepiece 0.1.97 (apt: python3-sentencepiece) with real-blip2-flan-t5-xl's
# spiece.model and by npm's gpt-3-encoder 1.1.4 (npm install gpt-3-encoder@1.1.4 in $GPT3ENC).
# Run from processing/tokenizer: sh testdata/goldens/gen.sh
set -eu
GPT3ENC=${GPT3ENC:-/tmp/gpt3enc}
D=$(mktemp -d)
GOLDEN_CORPUS_DIR=$D go test -run TestWriteGoldenCorpus -count=1 . >/dev/null
/usr/bin/python3 testdata/goldens/spm_goldens.py ../../parity/testdata/real-blip2-flan-t5-xl/spiece.model "$D" > "$D/t5.tsv"
NODE_PATH=$GPT3ENC/node_modules node testdata/goldens/gpt2_goldens.js "$D" > "$D/gpt2.tsv"
{
  echo "# name	content_sha256_16	gpt2_tokens_sha256_16	gpt2_count	t5_ids_sha256_16	t5_count"
  join -t '	' "$D/index.tsv" "$D/gpt2.tsv" | join -t '	' - "$D/t5.tsv" | sort -n | cut -f2-
} > testdata/goldens/goldens.tsv
wc -c "$D"/*.txt | tail -1
rm -rf "$D"
