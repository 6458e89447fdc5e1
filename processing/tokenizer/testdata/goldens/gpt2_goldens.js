// GPT-2 BPE goldens from npm's gpt-3-encoder (1.1.4): the token strings of every corpus
// document, joined by "\n" and hashed (token strings do not depend on the id layout, so they
// compare with OPT's vocab.json, which holds the same tokens under other ids).
// Usage: NODE_PATH=.../node_modules node gpt2_goldens.js CORPUS_DIR > gpt2.tsv
const fs = require('fs');
const crypto = require('crypto');
const { encode } = require('gpt-3-encoder');
const enc = require('gpt-3-encoder/encoder.json');
const dec = {};
for (const [k, v] of Object.entries(enc)) dec[v] = k;
const d = process.argv[2];
for (const line of fs.readFileSync(d + '/index.tsv', 'utf8').split('\n')) {
  if (!line) continue;
  const num = line.split('\t')[0];
  const text = fs.readFileSync(`${d}/${num}.txt`, 'utf8');
  const toks = encode(text).map((id) => dec[id]);
  const h = crypto.createHash('sha256').update(toks.join('\n'), 'utf8').digest('hex').slice(0, 16);
  console.log(`${num}\t${h}\t${toks.length}`);
}
