#!/usr/bin/env bash
# Export a model folder that `biotable train` wrote to model.int8.onnx beside its safetensors
# (transformer optimizer + dynamic int8 quantization; see scripts/export-onnx.py):
#   bash scripts/export-onnx.sh models/biotable-ner [--keep-fp32] [--reduce-range]
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 MODEL_DIR [export-onnx.py options]" >&2; exit 2; }
bash scripts/setup-onnxruntime.sh >/dev/null
exec "${BIOTABLE_CACHE:-$HOME/.cache/biotable}/onnx-venv/bin/python" scripts/export-onnx.py "$@"
