#!/usr/bin/env bash
# Benchmark of `biotable extract` on a fixed corpus of real abstracts from ../shared/data
# (NCBI-disease, BC5CDR, JNLPBA; title + abstract per document, fixed order), optionally side
# by side with a peer, interleaved run by run so both see the same machine state.
#
#   bash scripts/bench.sh [--peer spacy|map] [--backend auto|onnx|tch] [DOCS=1000] [RUNS=3] [THREADS=2] [MODEL]
#
# `--peer map` times `biotable map < corpus > file` (the map side of a Spark job) against
# `extract`; its time is the process's wall time (model loading included), as extract's is.
#
# Per run: seconds, docs/s, words/s, model tokens/s, peak RSS; then the medians and, with a
# peer, the ratio of median words/s (biotable / peer). Words are whitespace-separated words of
# the document texts, counted the same way for both. biotable's time is the whole `extract`
# run (model loading and table export included); the peer's is its pipeline over the texts
# after loading (scripts/bench_spacy.py), which favours the peer.
# Extra extract flags come from $BENCH_ARGS (e.g. BENCH_ARGS=--no-link).
set -euo pipefail
cd "$(dirname "$0")/.."
PEER=""; BACKEND="auto"; pos=()
while [ $# -gt 0 ]; do
  case "$1" in
    --peer) PEER="$2"; shift 2 ;;
    --backend) BACKEND="$2"; shift 2 ;;
    *) pos+=("$1"); shift ;;
  esac
done
DOCS="${pos[0]:-1000}"; RUNS="${pos[1]:-3}"; THREADS="${pos[2]:-2}"; MODEL="${pos[3]:-models/biotable-ner}"
case "$PEER" in
  "") ;;
  spacy) PEER_PY="$(bash scripts/setup-spacy-peer.sh)" ;;
  map) ;;
  *) echo "bench.sh: unknown peer '$PEER' (spacy, map)" >&2; exit 2 ;;
esac
source scripts/bench-common.sh
work=target/bench; mkdir -p "$work"
corpus="$work/abstracts-$DOCS.jsonl"
python3 scripts/bench_corpus.py "$DATA" "$DOCS" > "$corpus"
echo "corpus: $corpus ($(wc -l < "$corpus") documents, $(python3 -c "import json,sys;print(sum(len(json.loads(l)['text'].split()) for l in open(sys.argv[1])))" "$corpus") words); backend $BACKEND, $THREADS threads"
rm -f "$work"/run-*.json
for i in $(seq 1 "$RUNS"); do
  /usr/bin/time -v "$BIN" extract "$corpus" --out "$work/out" --model "$MODEL" \
    --threads "$THREADS" --backend "$BACKEND" --quiet ${BENCH_ARGS:-} > /dev/null 2> "$work/time-$i.txt" \
    || [ $? -eq 3 ] || { cat "$work/time-$i.txt" >&2; exit 1; }  # 3: records skipped (the corpus repeats one id)
  python3 - "$work/out/manifest.json" "$work/time-$i.txt" "$i" "$work/run-biotable-$i.json" <<'PY'
import json, re, sys
m = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
w = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
wall = int(w.group(1) or 0) * 3600 + int(w.group(2)) * 60 + float(w.group(3))
tp = m["throughput"]
row = dict(tool="biotable", run=int(sys.argv[3]), backend=m.get("backend"), seconds=m["elapsed_seconds"],
           wall_seconds=wall, wall_words_per_s=m["counts"]["words"] / wall,
           docs_per_s=tp["documents_per_second"], words_per_s=tp["words_per_second"],
           tokens_per_s=tp["model_tokens_per_second"], peak_rss_mb=rss,
           stages={s["stage"]: s["wall_seconds"] for s in m.get("stages", [])})
print(json.dumps(row))
open(sys.argv[4], "w").write(json.dumps(row))
PY
  if [ "$PEER" = map ]; then
    /usr/bin/time -v "$BIN" map --model "$MODEL" --threads "$THREADS" --backend "$BACKEND" \
      < "$corpus" > "$work/map-out.jsonl" 2> "$work/time-map-$i.txt" \
      || { cat "$work/time-map-$i.txt" >&2; exit 1; }
    python3 - "$corpus" "$work/time-map-$i.txt" "$i" "$work/run-map-$i.json" <<'PY'
import json, re, sys
t = open(sys.argv[2]).read()
m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
seconds = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
docs = [json.loads(l) for l in open(sys.argv[1])]
words = sum(len(d["text"].split()) for d in docs)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
row = dict(tool="map", run=int(sys.argv[3]), seconds=seconds, docs_per_s=len(docs) / seconds,
           words_per_s=words / seconds, peak_rss_mb=rss)
print(json.dumps(row))
open(sys.argv[4], "w").write(json.dumps(row))
PY
  elif [ -n "$PEER" ]; then
    /usr/bin/time -v "$PEER_PY" scripts/bench_spacy.py "$corpus" > "$work/run-$PEER-$i.json" 2> "$work/time-$PEER-$i.txt" \
      || { cat "$work/time-$PEER-$i.txt" >&2; exit 1; }
    python3 - "$work/run-$PEER-$i.json" "$work/time-$PEER-$i.txt" "$i" <<'PY'
import json, re, sys
row = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
row.update(run=int(sys.argv[3]), peak_rss_mb=int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024)
print(json.dumps(row))
open(sys.argv[1], "w").write(json.dumps(row))
PY
  fi
done
python3 - "$work" "$RUNS" "$PEER" ${BENCH_ARGS:-} <<'PY'
import json, statistics, sys
work, runs, peer = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def med(tool):
    rows = [json.load(open(f"{work}/run-{tool}-{i}.json")) for i in range(1, runs + 1)]
    return {k: statistics.median(r[k] for r in rows) for k in ("seconds", "docs_per_s", "words_per_s", "peak_rss_mb")}, rows
b, rows = med("biotable")
extra = " (%s)" % " ".join(sys.argv[4:]) if sys.argv[4:] else ""
print("biotable median over %d runs%s [%s]: %.1f s, %.1f docs/s, %.0f words/s, peak RSS %.0f MB" % (
    runs, extra, rows[0]["backend"], b["seconds"], b["docs_per_s"], b["words_per_s"], b["peak_rss_mb"]))
stages = {k: statistics.median(r["stages"].get(k, 0) for r in rows) for k in rows[0]["stages"]}
print("biotable median stage wall seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
if peer:
    p, _ = med(peer)
    print("%s median over %d runs: %.1f s, %.1f docs/s, %.0f words/s, peak RSS %.0f MB" % (
        peer, runs, p["seconds"], p["docs_per_s"], p["words_per_s"], p["peak_rss_mb"]))
    if peer == "map":
        # Both timed as whole processes (wall clock, loading and exit included).
        bw = statistics.median(r["wall_words_per_s"] for r in rows)
        print("extract median wall words/s: %.0f; ratio map / extract (median wall words/s): %.3fx" % (
            bw, p["words_per_s"] / bw))
    else:
        print("ratio biotable / %s (median words/s): %.2fx" % (peer, b["words_per_s"] / p["words_per_s"]))
PY
