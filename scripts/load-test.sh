#!/usr/bin/env bash
# Load test: stream N short documents (~20 words each, built from the public abstracts) through
# `extract` and report peak RSS and throughput, for each N given (default 10000 100000), so that
# memory growth between sizes shows.
#
#   bash scripts/load-test.sh [N...]      ($BIOTABLE_BIN: an already built binary)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${BIOTABLE_DATA:-../shared/data}"
[ -d "$DATA" ] || { echo "load-test: no corpus folder $DATA (set BIOTABLE_DATA)" >&2; exit 2; }
eval "$(scripts/setup-libtorch.sh)"
BIN="${BIOTABLE_BIN:-target/release/biotable}"
[ -n "${BIOTABLE_BIN:-}" ] || cargo build --release --quiet
work=target/load; mkdir -p "$work"
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
for n in "${sizes[@]}"; do
  corpus="$work/load-$n.jsonl.gz"
  [ -f "$corpus" ] || python3 scripts/load_corpus.py "$DATA" "$n" | gzip -1 > "$corpus"
  /usr/bin/time -v "$BIN" extract "$corpus" --out "$work/out-$n" --threads 2 --quiet \
    > /dev/null 2> "$work/time-$n.txt" || { tail -5 "$work/time-$n.txt"; exit 1; }
  python3 - "$work/out-$n/manifest.json" "$work/time-$n.txt" "$n" <<'PY'
import json, re, sys
m = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
c, tp = m["counts"], m["throughput"]
print(f"{sys.argv[3]} documents: {c['words']} words, {c['mentions']} mentions, {c['entities']} entities, "
      f"{c['cooccurrences']} pairs; {m['elapsed_seconds']:.0f} s, {tp['documents_per_second']:.0f} docs/s, "
      f"{tp['words_per_second']:.0f} words/s; peak RSS {rss:.0f} MB")
PY
done
