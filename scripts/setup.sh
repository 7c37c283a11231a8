#!/usr/bin/env bash
# Set up everything `biotable` needs and build it: CPU-only libtorch 2.4.0 and the base encoder
# (cached in ~/.cache/biotable by setup-libtorch.sh), ONNX Runtime for the int8 backend
# (setup-onnxruntime.sh, same cache), then the release binary. Idempotent: a
# second run takes seconds. Prints the environment as `export` lines:
#   eval "$(scripts/setup.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
env_lines="$(scripts/setup-libtorch.sh)"
eval "$env_lines"
bash scripts/setup-onnxruntime.sh >/dev/null
echo "[setup] building the release binary (first time: ~6 minutes on 2 cores)" >&2
cargo build --release --quiet >&2
echo "[setup] ready: target/release/biotable (or scripts/biotable, which checks libtorch first)" >&2
echo "$env_lines"
