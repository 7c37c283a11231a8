#!/usr/bin/env bash
# Load test: stream N short documents (~20 words each, built from the public abstracts) through
# `extract` and report peak RSS and throughput, for each N given (default 10000 100000), so that
# memory growth between sizes shows. An argument `huge-M` instead streams one document of M MB
# of words with no punctuation and no line break (the worst case for sentence splitting).
#
#   bash scripts/load-test.sh [N | huge-M ...]      ($BIOTABLE_BIN: an already built binary)
#
# Extra extract flags come from $LOAD_ARGS (e.g. LOAD_ARGS="--format csv,parquet").
#
# Besides /usr/bin/time's peak, each line shows the manifest's memory report: the peak while
# documents streamed (before the tables are written) and the estimated size of the tables.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-common.sh
work=target/load; mkdir -p "$work"
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
for n in "${sizes[@]}"; do
  case "$n" in
    huge-*)
      corpus="$work/$n.txt"
      [ -f "$corpus" ] || python3 - "${n#huge-}" > "$corpus" <<'PY'
import sys
words = "leukemia cells of the NK and CAR-T Lund University patients with acute myeloid".split()
target, out, i = int(sys.argv[1]) << 20, [], 0
size = 0
while size < target:
    w = words[i % len(words)]; out.append(w); size += len(w) + 1; i += 1
sys.stdout.write(" ".join(out))
PY
      ;;
    *)
      corpus="$work/load-$n.jsonl.gz"
      [ -f "$corpus" ] || python3 scripts/load_corpus.py "$DATA" "$n" | gzip -1 > "$corpus"
      ;;
  esac
  /usr/bin/time -v "$BIN" extract "$corpus" --out "$work/out-$n" --threads 2 --quiet ${LOAD_ARGS:-} \
    > /dev/null 2> "$work/time-$n.txt" || { tail -5 "$work/time-$n.txt"; exit 1; }
  python3 - "$work/out-$n/manifest.json" "$work/time-$n.txt" "$n" <<'PY'
import json, re, sys
m = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
c, tp, mem = m["counts"], m["throughput"], m.get("memory") or {}
print(f"{sys.argv[3]}: {c['documents']} documents, {c['words']} words, {c['mentions']} mentions, "
      f"{c['entities']} entities, {c['cooccurrences']} pairs; {m['elapsed_seconds']:.0f} s, "
      f"{tp['documents_per_second']:.0f} docs/s, {tp['words_per_second']:.0f} words/s; "
      f"peak RSS {rss:.0f} MiB (streaming {mem.get('streaming_peak_rss_mib')} MiB, "
      f"tables ~{mem.get('table_mib')} MiB)")
PY
done
