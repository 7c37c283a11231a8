#!/usr/bin/env bash
# README command 1: set up (libtorch, build) and run `biotable extract` on the bundled sample
# corpus, with the HTML report (OUT_DIR/report.html). Usage: bash scripts/run-sample.sh [OUT_DIR]   (default out/sample)
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup.sh)"
out="${1:-out/sample}"
status=0
./target/release/biotable extract data/sample --out "$out" --format csv,jsonl,json,html || status=$?
echo
echo "Tables written to $out/:"
ls -1 "$out"
echo "Top entities (entities.csv):"
head -n 12 "$out/entities.csv" | cut -c1-160
echo
echo "Open $out/report.html in a browser (one file, no network needed): top entities, mentions"
echo "in context, the co-occurrence network, documents with their entities highlighted."
exit "$status"
