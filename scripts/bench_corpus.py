"""Write a fixed JSONL benchmark corpus of real abstracts from ../shared/data to stdout.

Usage: python3 scripts/bench_corpus.py DATA_DIR DOCS
Documents: every PubTator abstract of NCBI-disease and BC5CDR, then the JNLPBA standoff texts,
in file order, cycled if DOCS exceeds them (ids then get a #k suffix)."""
import glob, json, os, re, sys

data, n = sys.argv[1], int(sys.argv[2])
docs = []
for path in sorted(glob.glob(os.path.join(data, "ncbi-disease/original/*.txt"))) + sorted(
        glob.glob(os.path.join(data, "bc5cdr/original/*.PubTator.txt"))):
    title = {}
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^(\d+)\|([ta])\|(.*)$", line.rstrip("\n"))
        if not m:
            continue
        if m.group(2) == "t":
            title[m.group(1)] = m.group(3)
        else:
            docs.append((f"{os.path.basename(path)}:{m.group(1)}", title.get(m.group(1), "") + "\n" + m.group(3)))
for path in sorted(glob.glob(os.path.join(data, "jnlpba/standoff/*/*.txt"))):
    docs.append((f"jnlpba:{os.path.basename(path)[:-4]}", open(path, encoding="utf-8").read()))
for i in range(n):
    doc_id, text = docs[i % len(docs)]
    if i >= len(docs):
        doc_id += f"#{i // len(docs)}"
    print(json.dumps({"id": doc_id, "text": text}))
