#!/usr/bin/env bash
# Debian's headless Chromium for the report's browser test (scripts/test-report.sh): installed
# with apt where missing (needs root or sudo). Prints the browser's path.
set -euo pipefail
for c in chromium chromium-browser; do
  if command -v "$c" >/dev/null 2>&1; then command -v "$c"; exit 0; fi
done
echo "[setup-chromium] installing Debian's chromium (one-time, ~100 MB)" >&2
sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
$sudo_cmd apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >&2
command -v chromium
