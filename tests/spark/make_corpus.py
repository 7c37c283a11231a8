"""The Spark test corpus: at least 200 documents cut from the bundled sample (runs of 1 to 4
consecutive sentences of each sample document), plus one line of bad JSON and one empty text.
Deterministic: the same file every time.

    python tests/spark/make_corpus.py data/sample OUT.jsonl [MIN_DOCS=240]
"""
import json
import os
import re
import sys

sample, out = sys.argv[1], sys.argv[2]
min_docs = int(sys.argv[3]) if len(sys.argv) > 3 else 240
texts = [open(os.path.join(sample, n), encoding="utf-8").read()
         for n in sorted(os.listdir(sample)) if n.endswith((".txt", ".md"))]
docs = []
width = 1
while len(docs) < min_docs:
    for t in texts:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", t) if s.strip()]
        for i in range(0, len(sentences), width):
            docs.append(" ".join(sentences[i:i + width]))
    width += 1
with open(out, "w", encoding="utf-8") as f:
    for i, text in enumerate(docs):
        if i == 17:
            f.write('{"id": "broken", "text": \n')
        if i == 42:
            f.write(json.dumps({"id": "empty", "text": "   "}) + "\n")
        f.write(json.dumps({"id": f"s{i:04d}", "text": text}) + "\n")
print(f"{out}: {len(docs)} documents and 2 bad records", file=sys.stderr)
