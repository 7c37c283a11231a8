#!/usr/bin/env bash
# README command 2 (and what CI runs): formatting, lints, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup-libtorch.sh)"
cargo fmt --check
cargo clippy --release --all-targets --quiet -- -D warnings
cargo test --release
