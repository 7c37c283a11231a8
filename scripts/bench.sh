#!/usr/bin/env bash
# Benchmark of `biotable extract` on a fixed corpus of real abstracts from ../shared/data
# (NCBI-disease, BC5CDR, JNLPBA; title + abstract per document, fixed order).
# Prints docs/s, words/s, model tokens/s and peak RSS per run, then the medians.
#
#   bash scripts/bench.sh [DOCS=1000] [RUNS=3] [THREADS=2] [MODEL=models/biotable-ner]
#
# Extra extract flags come from $BENCH_ARGS, e.g. BENCH_ARGS=--no-link to time the pipeline
# without ontology linking (the linking overhead is the ratio of the two medians).
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS="${1:-1000}"; RUNS="${2:-3}"; THREADS="${3:-2}"; MODEL="${4:-models/biotable-ner}"
source scripts/bench-common.sh
work=target/bench; mkdir -p "$work"
corpus="$work/abstracts-$DOCS.jsonl"
python3 scripts/bench_corpus.py "$DATA" "$DOCS" > "$corpus"
echo "corpus: $corpus ($(wc -l < "$corpus") documents, $(python3 -c "import json,sys;print(sum(len(json.loads(l)['text'].split()) for l in open(sys.argv[1])))" "$corpus") words)"
for i in $(seq 1 "$RUNS"); do
  /usr/bin/time -v "$BIN" extract "$corpus" --out "$work/out" --model "$MODEL" \
    --threads "$THREADS" --quiet ${BENCH_ARGS:-} > /dev/null 2> "$work/time-$i.txt"
  python3 - "$work/out/manifest.json" "$work/time-$i.txt" "$i" <<'PY'
import json, re, sys
m = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
tp = m["throughput"]
row = dict(run=int(sys.argv[3]), seconds=m["elapsed_seconds"], docs_per_s=tp["documents_per_second"],
           words_per_s=tp["words_per_second"], tokens_per_s=tp["model_tokens_per_second"], peak_rss_mb=rss)
print(json.dumps(row))
open(sys.argv[2] + ".json", "w").write(json.dumps(row))
PY
done
python3 - "$work" "$RUNS" ${BENCH_ARGS:-} <<'PY'
import json, statistics, sys
rows = [json.load(open(f"{sys.argv[1]}/time-{i}.txt.json")) for i in range(1, int(sys.argv[2]) + 1)]
med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "run"}
print("median over %d runs" % len(rows) + (" (%s)" % " ".join(sys.argv[3:]) if sys.argv[3:] else "") + ": %.1f s, %.1f docs/s, %.0f words/s, %.0f model tokens/s, peak RSS %.0f MB" % (
    med["seconds"], med["docs_per_s"], med["words_per_s"], med["tokens_per_s"], med["peak_rss_mb"]))
PY
