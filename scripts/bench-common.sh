# Sourced by bench.sh and load-test.sh (from the repository root): the data folder, libtorch,
# and the binary to time ($BIOTABLE_BIN: an already built one, e.g. a copy while the tree is
# being edited; otherwise target/release/biotable, built first).
DATA="${BIOTABLE_DATA:-../shared/data}"
[ -d "$DATA" ] || { echo "$(basename "$0"): no corpus folder $DATA (set BIOTABLE_DATA)" >&2; exit 2; }
eval "$(scripts/setup-libtorch.sh)"
BIN="${BIOTABLE_BIN:-target/release/biotable}"
[ -n "${BIOTABLE_BIN:-}" ] || cargo build --release --quiet
