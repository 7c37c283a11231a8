#!/usr/bin/env bash
# Score a model on every test split and print the model card's table (markdown) plus the
# raw JSON reports in target/eval/.
#   bash scripts/eval-all.sh [MODEL=models/biotable-ner] [THREADS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-models/biotable-ner}"; THREADS="${2:-2}"
eval "$(scripts/setup-libtorch.sh)"
cargo build --release --quiet
mkdir -p target/eval
for c in ncbi-disease bc5cdr jnlpba wnut17 multiconer2 org-lists; do
  ./target/release/biotable eval --model "$MODEL" --corpus "$c" --split test --threads "$THREADS" > "target/eval/$c.json"
done
python3 - <<'PY'
import json
print("| corpus (test split) | label | precision | recall | F1 | gold |")
print("| --- | --- | --- | --- | --- | --- |")
for c in ["ncbi-disease", "bc5cdr", "jnlpba", "wnut17", "multiconer2", "org-lists"]:
    r = json.load(open(f"target/eval/{c}.json"))
    rows = list(r["per_label"].items()) + ([("micro", r["micro"])] if len(r["per_label"]) > 1 else [])
    for label, m in rows:
        print(f"| {c} | {label} | {m['precision']:.3f} | {m['recall']:.3f} | **{m['f1']:.3f}** | {m['tp'] + m['fn']} |")
PY
