#!/usr/bin/env bash
# The Spark job and the Parquet tables, for real (part of scripts/test.sh, so of CI):
# PySpark from PyPI on local[2] (Java 17 from apt where missing; both cached by
# scripts/setup-spark.sh), a corpus of 240+ documents in 4 partitions, mapped with
# `biotable map` through RDD.pipe and through mapInArrow, merged with `biotable merge`; both
# outputs must equal one `biotable extract` run of the same corpus, and every Parquet file
# must read back with pyarrow, typed, with the rows of its CSV (tests/spark/compare_tables.py).
# Then the same from a Parquet file of documents (3 partitions, RDD.pipe).
# Usage: bash scripts/test-spark.sh   (after a release build; scripts/test.sh builds it)
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup-libtorch.sh)"
eval "$(bash scripts/setup-onnxruntime.sh)"
eval "$(bash scripts/setup-spark.sh)"
BIN="$PWD/target/release/biotable"
[ -x "$BIN" ] || cargo build --release --quiet
work=target/spark-test; rm -rf "$work"; mkdir -p "$work"
"$BIOTABLE_SPARK_PYTHON" tests/spark/make_corpus.py data/sample "$work/corpus.jsonl" 240
status=0
"$BIN" extract "$work/corpus.jsonl" --out "$work/one-run" --threads 1 --format csv,parquet --quiet \
  > /dev/null || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || { echo "test-spark: extract failed ($status)" >&2; exit 1; }
for mode in pipe arrow; do
  echo "[test-spark] Spark local[2], 4 partitions, mode $mode" >&2
  "$BIOTABLE_SPARK_PYTHON" examples/spark/biotable_spark.py --master 'local[2]' \
    --input "$work/corpus.jsonl" --out "$work/spark-$mode" --partitions 4 --mode "$mode" \
    --biotable "$BIN" --threads 1 --format csv,parquet 2> "$work/spark-$mode.log" \
    || { tail -n 40 "$work/spark-$mode.log" >&2; exit 1; }
done
"$BIOTABLE_SPARK_PYTHON" tests/spark/compare_tables.py "$work/one-run" "$work/spark-pipe" "$work/spark-arrow"
# Parquet documents in: the corpus's valid records as a Parquet file (ids, texts), against one
# extract run of the same records.
"$BIOTABLE_SPARK_PYTHON" - "$work/corpus.jsonl" "$work/docs.parquet" "$work/valid.jsonl" <<'PY'
import json, sys
import pyarrow as pa, pyarrow.parquet as pq
docs = []
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        docs.append(json.loads(line))
    except ValueError:
        pass
pq.write_table(pa.table({"id": [d["id"] for d in docs], "text": [d["text"] for d in docs]}), sys.argv[2])
open(sys.argv[3], "w", encoding="utf-8").write("".join(json.dumps(d) + "\n" for d in docs))
PY
status=0
"$BIN" extract "$work/valid.jsonl" --out "$work/one-run-valid" --threads 1 --format csv,parquet --quiet \
  > /dev/null || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || { echo "test-spark: extract failed ($status)" >&2; exit 1; }
echo "[test-spark] Spark local[2], Parquet input, 3 partitions, mode pipe" >&2
"$BIOTABLE_SPARK_PYTHON" examples/spark/biotable_spark.py --master 'local[2]' \
  --input "$work/docs.parquet" --out "$work/spark-parquet" --partitions 3 \
  --biotable "$BIN" --threads 1 --format csv,parquet 2> "$work/spark-parquet.log" \
  || { tail -n 40 "$work/spark-parquet.log" >&2; exit 1; }
"$BIOTABLE_SPARK_PYTHON" tests/spark/compare_tables.py "$work/one-run-valid" "$work/spark-parquet"
