#!/usr/bin/python3
"""SentencePiece goldens: sp.encode(text) ids of every corpus document, hashed.

Usage: spm_goldens.py SPIECE_MODEL CORPUS_DIR > t5.tsv   (python3-sentencepiece 0.1.97, Debian)
Output lines: number, sha256(",".join(ids))[:16 hex], number of ids.
"""
import hashlib
import sys

import sentencepiece as spm

sp = spm.SentencePieceProcessor()
sp.Load(sys.argv[1])
d = sys.argv[2]
for line in open(d + "/index.tsv", encoding="utf-8"):
    num = line.split("\t")[0]
    text = open(f"{d}/{num}.txt", encoding="utf-8", newline="").read()
    ids = sp.encode(text)
    h = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    print(f"{num}\t{h}\t{len(ids)}")
