#!/usr/bin/env bash
# The model card's ablation table: each decoding lever switched off in turn, and the lexicon
# features zeroed, scored on the DEV splits (never test).
#   bash scripts/ablation.sh [MODEL=models/biotable-ner] [THREADS=2]
# Reports: target/eval/dev-<variant>/*.json; a summary table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-models/biotable-ner}"; THREADS="${2:-2}"
declare -A FLAGS=(
  [full]=""
  [no-viterbi]="--no-viterbi"
  [no-trim]="--no-trim"
  [no-merge]="--no-merge"
  [no-consistency]="--no-consistency"
  [no-lexicon]="--no-lexicon"
)
for v in full no-viterbi no-trim no-merge no-consistency no-lexicon; do
  TAG="dev-$v" EVAL_ARGS="${FLAGS[$v]}" bash scripts/eval-all.sh "$MODEL" "$THREADS" dev >/dev/null
done
python3 - <<'PY'
import json, os
variants = ["full", "no-viterbi", "no-trim", "no-merge", "no-consistency", "no-lexicon"]
sets = [("ncbi-disease", "DISEASE"), ("ncbi-disease-title", "DISEASE"), ("ncbi-disease-docs", "DISEASE"),
        ("bc5cdr", "DISEASE"), ("bc5cdr-docs", "DISEASE"), ("jnlpba", "CELL_TYPE"),
        ("formal-orgs", "merged"), ("formal-orgs-title", "merged"), ("wnut17", "micro")]
def f1(v, name, label):
    p = f"target/eval/dev-{v}/{name}.json"
    if not os.path.exists(p):
        return None
    r = json.load(open(p))
    m = r["org_company_merged"] if label == "merged" else r["micro"] if label == "micro" else r["per_label"][label]
    return m["f1"]
print("| dev set | " + " | ".join(variants) + " |")
print("| --- |" + " --- |" * len(variants))
for name, label in sets:
    cells = []
    for v in variants:
        x = f1(v, name, label)
        cells.append("–" if x is None else f"{x:.3f}")
    print(f"| {name} {label} | " + " | ".join(cells) + " |")
PY
