#!/usr/bin/env bash
# README command 2 (and what CI runs): formatting, lints, every test, the Spark job and the
# report in a browser.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup-libtorch.sh)"
# ONNX Runtime + export venv: the ONNX parity tests need them (they skip, saying so, without).
bash scripts/setup-onnxruntime.sh >/dev/null
cargo fmt --check
cargo clippy --release --all-targets --quiet -- -D warnings
cargo test --release
# The Spark job (PySpark local[2]) and the Parquet read-back, against one extract run.
bash scripts/test-spark.sh
# The HTML report in headless Chromium (installed with apt where missing).
bash scripts/test-report.sh
