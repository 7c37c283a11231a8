#!/usr/bin/env bash
# Install what the ONNX backend needs, cached in $BIOTABLE_CACHE (default ~/.cache/biotable):
#   onnxruntime/libonnxruntime.so   the ONNX Runtime library of the PyPI `onnxruntime` wheel,
#                                   where `biotable` finds it without any variable
#   onnx-venv/                      Python with onnx + onnxruntime, for scripts/export-onnx.sh
# Idempotent: a second run takes a second. Versions are pinned; the wheel needs glibc >= 2.28.
set -euo pipefail
CACHE="${BIOTABLE_CACHE:-$HOME/.cache/biotable}"
ORT_VERSION=1.32.0
VENV="$CACHE/onnx-venv"
LIB_DIR="$CACHE/onnxruntime"
PY="${PYTHON:-python3}"
log() { echo "[setup-onnxruntime] $*" >&2; }
stamp="$VENV/.complete-$ORT_VERSION"
if [ ! -f "$stamp" ]; then
  log "creating $VENV (onnxruntime $ORT_VERSION, onnx; one-time, ~60 MB download)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "onnxruntime==$ORT_VERSION" "onnx==1.23.2" "numpy==2.4.6" "safetensors==0.7.0" "sympy==1.14.0" >&2
  touch "$stamp"
fi
if [ ! -f "$LIB_DIR/.complete-$ORT_VERSION" ]; then
  src="$(ls "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -n1)"
  rm -rf "$LIB_DIR"; mkdir -p "$LIB_DIR"
  cp "$src" "$LIB_DIR/libonnxruntime.so"
  touch "$LIB_DIR/.complete-$ORT_VERSION"
  log "ONNX Runtime $ORT_VERSION ready in $LIB_DIR"
fi
echo "export BIOTABLE_ORT_LIB=\"$LIB_DIR/libonnxruntime.so\""
