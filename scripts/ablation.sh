#!/usr/bin/env bash
# The model card's ablation table: each inference-time lever switched off in turn, scored on
# the DEV splits (never test). Every variant runs on the sets its lever can change: decoding
# and lexicon features on the sentence-level sets, document consistency on whole abstracts.
#   bash scripts/ablation.sh [MODEL=models/biotable-ner] [THREADS=2]
# Reports: target/eval/dev-<variant>/<set>.json (kept: a rerun skips what exists; delete the
# folder after changing the model or the code); a summary table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-models/biotable-ner}"; THREADS="${2:-2}"
eval "$(scripts/setup-libtorch.sh)"
cargo build --release --quiet
SENTENCE_SETS="ncbi-disease bc5cdr jnlpba formal-orgs"
run() { # variant set corpus [flags...]
  local variant="$1" set="$2" corpus="$3"; shift 3
  local out="target/eval/dev-$variant/$set.json"
  mkdir -p "target/eval/dev-$variant"
  [ -s "$out" ] && return 0
  ./target/release/biotable eval --model "$MODEL" --corpus "$corpus" --split dev \
    --threads "$THREADS" "$@" > "$out.partial"
  mv "$out.partial" "$out"
}
for s in $SENTENCE_SETS; do run full "$s" "$s"; done
run full ncbi-disease-title ncbi-disease --case title
run full formal-orgs-title formal-orgs --case title
run full ncbi-disease-docs ncbi-disease-docs
run full bc5cdr-docs bc5cdr-docs
for v in viterbi trim merge lexicon; do
  for s in $SENTENCE_SETS; do run "no-$v" "$s" "$s" "--no-$v"; done
done
run no-lexicon ncbi-disease-title ncbi-disease --case title --no-lexicon
run no-lexicon formal-orgs-title formal-orgs --case title --no-lexicon
run no-consistency ncbi-disease-docs ncbi-disease-docs --no-consistency
run no-consistency bc5cdr-docs bc5cdr-docs --no-consistency
python3 - <<'PY'
import json, os
variants = ["full", "no-viterbi", "no-trim", "no-merge", "no-consistency", "no-lexicon"]
sets = [("ncbi-disease", "DISEASE"), ("ncbi-disease-title", "DISEASE"), ("ncbi-disease-docs", "DISEASE"),
        ("bc5cdr", "DISEASE"), ("bc5cdr", "CHEMICAL"), ("bc5cdr-docs", "DISEASE"),
        ("jnlpba", "CELL_TYPE"), ("jnlpba", "CELL_LINE"), ("jnlpba", "micro"),
        ("formal-orgs", "merged"), ("formal-orgs-title", "merged")]
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
        cells.append("" if x is None else f"{x:.3f}")
    print(f"| {name} {label} | " + " | ".join(cells) + " |")
PY
