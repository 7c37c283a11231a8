#!/usr/bin/env bash
# Score a model on every test split and print the model card's table (markdown) plus the
# raw JSON reports in target/eval/.
#   bash scripts/eval-all.sh [--backend auto|onnx|tch] [MODEL=models/biotable-ner] [THREADS=2] [SPLIT=test]
# Extra eval flags (ablations such as --no-viterbi) can be passed in $EVAL_ARGS, and the
# reports go to target/eval/$TAG (default: the split, plus the backend when one is named).
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=""; pos=()
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) BACKEND="$2"; shift 2 ;;
    *) pos+=("$1"); shift ;;
  esac
done
MODEL="${pos[0]:-models/biotable-ner}"; THREADS="${pos[1]:-2}"; SPLIT="${pos[2]:-test}"
EVAL_ARGS="${EVAL_ARGS:-}${BACKEND:+ --backend $BACKEND}"
TAG="${TAG:-$SPLIT${BACKEND:+-$BACKEND}}"
eval "$(scripts/setup-libtorch.sh)"
# $BIOTABLE_BIN: an already built binary (e.g. a copy while the tree is being edited).
BIN="${BIOTABLE_BIN:-target/release/biotable}"
[ -n "${BIOTABLE_BIN:-}" ] || cargo build --release --quiet
OUT="target/eval/$TAG"
mkdir -p "$OUT"
run() { # name corpus [flags...]
  local name="$1" corpus="$2"; shift 2
  # shellcheck disable=SC2086
  "$BIN" eval --model "$MODEL" --corpus "$corpus" --split "$SPLIT" \
    --threads "$THREADS" ${EVAL_ARGS:-} "$@" > "$OUT/$name.json"
}
run ncbi-disease ncbi-disease
run ncbi-disease-title ncbi-disease --case title
run bc5cdr bc5cdr
run jnlpba jnlpba
run formal-orgs formal-orgs
run formal-orgs-title formal-orgs --case title
run ncbi-disease-docs ncbi-disease-docs
run bc5cdr-docs bc5cdr-docs
if [ "$SPLIT" = test ]; then
  # wnut17 dev is training data; its test split is scored here only.
  run wnut17 wnut17
  run multiconer2 multiconer2
  run org-lists org-lists
fi
OUT="$OUT" python3 - <<'PY'
import json, os, glob
out = os.environ["OUT"]
print("| corpus | label | precision | recall | F1 | gold |")
print("| --- | --- | --- | --- | --- | --- |")
order = ["ncbi-disease", "ncbi-disease-title", "ncbi-disease-docs", "bc5cdr", "bc5cdr-docs",
         "jnlpba", "formal-orgs", "formal-orgs-title", "wnut17", "multiconer2", "org-lists"]
for name in order:
    path = f"{out}/{name}.json"
    if not os.path.exists(path):
        continue
    r = json.load(open(path))
    rows = list(r["per_label"].items())
    if len(r["per_label"]) > 1:
        rows.append(("micro", r["micro"]))
    if r.get("org_company_merged"):
        rows.append(("ORGANIZATION+COMPANY merged", r["org_company_merged"]))
    for label, m in rows:
        print(f"| {name} | {label} | {m['precision']:.3f} | {m['recall']:.3f} | **{m['f1']:.3f}** | {m['tp'] + m['fn']} |")
PY
