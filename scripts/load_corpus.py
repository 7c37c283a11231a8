"""Write a load-test JSONL corpus of short documents (20 words: the start of one or two sentences
of the public abstracts in ../shared/data) to stdout, deterministic.

Usage: python3 scripts/load_corpus.py DATA_DIR DOCS"""
import glob, json, os, re, sys

data, n = sys.argv[1], int(sys.argv[2])
sentences = []
for path in sorted(glob.glob(os.path.join(data, "ncbi-disease/original/*.txt"))) + sorted(
        glob.glob(os.path.join(data, "bc5cdr/original/*.PubTator.txt"))):
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^(\d+)\|[ta]\|(.*)$", line.rstrip("\n"))
        if m:
            sentences += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", m.group(2)) if s]
for path in sorted(glob.glob(os.path.join(data, "jnlpba/standoff/*/*.txt"))):
    text = open(path, encoding="utf-8").read().replace("\n", " ")
    sentences += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text) if s]
i = k = 0
while i < n:
    words = []
    while len(words) < 20:
        words += sentences[k % len(sentences)].split()
        k += 1
    print(json.dumps({"id": f"load-{i}", "text": " ".join(words[:20])}))
    i += 1
