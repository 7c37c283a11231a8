#!/usr/bin/env bash
# Install what the Spark example and the Parquet read-back tests need, cached in
# $BIOTABLE_CACHE (default ~/.cache/biotable):
#   spark-venv/   Python with pyspark (local mode), pyarrow and pandas (mapInArrow needs both)
# and Java 17 from Debian's packages where no `java` is on the PATH (needs root or sudo).
# Idempotent: a second run takes a second. Prints `export` lines: eval "$(scripts/setup-spark.sh)"
set -euo pipefail
CACHE="${BIOTABLE_CACHE:-$HOME/.cache/biotable}"
PYSPARK_VERSION=4.0.1
PYARROW_VERSION=26.0.1
PANDAS_VERSION=2.3.3
VENV="$CACHE/spark-venv"
PY="${PYTHON:-python3}"
log() { echo "[setup-spark] $*" >&2; }
if ! command -v java >/dev/null 2>&1; then
  log "no java on the PATH: installing openjdk-17-jre-headless from Debian's packages"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq openjdk-17-jre-headless >&2
fi
stamp="$VENV/.complete-$PYSPARK_VERSION-$PYARROW_VERSION-$PANDAS_VERSION"
if [ ! -f "$stamp" ]; then
  log "creating $VENV (pyspark $PYSPARK_VERSION, pyarrow $PYARROW_VERSION, pandas $PANDAS_VERSION; one-time, ~450 MB download)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "pyspark==$PYSPARK_VERSION" "pyarrow==$PYARROW_VERSION" "pandas==$PANDAS_VERSION" >&2
  touch "$stamp"
fi
echo "export BIOTABLE_SPARK_PYTHON=\"$VENV/bin/python\""
