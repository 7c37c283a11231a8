#!/usr/bin/env bash
# The HTML report in a real browser (part of scripts/test.sh, so of CI): headless Chromium
# (Debian's, installed where missing) loads the report of the sample corpus plus a hostile
# document (script tags, an onerror handler, an HTML comment, right-to-left text, emoji), and
# tests/report/check_dom.py reads the DOM after the page's script ran (--dump-dom): the
# counts, the entity table, the network, the documents, an entity page with its mentions in
# context, and the hostile document shown as text with every entity highlighted.
#   bash scripts/test-report.sh [--update-screenshot]   (writes docs/report.png from the sample)
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup-libtorch.sh)"
eval "$(bash scripts/setup-onnxruntime.sh)"
CHROMIUM="$(bash scripts/setup-chromium.sh)"
BIN="$PWD/target/release/biotable"
[ -x "$BIN" ] || cargo build --release --quiet
work="$PWD/target/report-test"; rm -rf "$work"; mkdir -p "$work"
browse() {  # browse URL ARGS...: headless Chromium, as the machine guide says (no background networking)
  local url="$1"; shift
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chromium-profile" --window-size=1280,900 "$@" "$url" 2>> "$work/chromium.log"
}
mkdir -p "$work/hostile" && cp tests/report/hostile.txt "$work/hostile/"   # doc_id: hostile.txt
status=0
"$BIN" extract data/sample "$work/hostile" --out "$work/out" --format csv,html --threads 2 --quiet \
  > /dev/null || status=$?
[ "$status" -eq 0 ] || { echo "test-report: extract failed ($status)" >&2; exit 1; }
# The same run's page again through `biotable report`, with every document shown.
"$BIN" report "$work/out" --out "$work/all-docs.html" --documents 100 > /dev/null
page="file://$work/all-docs.html"
browse "file://$work/out/report.html" --dump-dom > "$work/overview.dom.html"
entity="$(python3 tests/report/check_dom.py pick-entity "$work/out")"
browse "$page#entity/$entity" --dump-dom > "$work/entity.dom.html"
browse "$page#doc/hostile.txt" --dump-dom > "$work/hostile.dom.html"
browse "$page#network" --dump-dom > "$work/network.dom.html"
python3 tests/report/check_dom.py check "$work/out" "$work" "$entity"
browse "file://$work/out/report.html#network" --screenshot="$work/report.png" > /dev/null
if [ "${1:-}" = "--update-screenshot" ]; then
  "$BIN" extract data/sample --out "$work/sample" --format csv,html --threads 2 --quiet > /dev/null
  browse "file://$work/sample/report.html#entity/$(python3 tests/report/check_dom.py pick-entity "$work/sample")" \
    --screenshot="$PWD/docs/report.png" > /dev/null
  echo "test-report: wrote docs/report.png" >&2
fi
