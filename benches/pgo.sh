#!/bin/sh
# Regenerates the PGO profile that optimized builds use: benches/pgo/tcpsim.profdata.
#
#   benches/pgo.sh            # about 3 minutes on 2 cores; then commit benches/pgo/
#
# Why: with the profile, rustc lays out and inlines the hot paths as the workloads really run
# them; bench-a gained about 20 % (benches/RESULTS.md, session 14). Outputs are the same with
# or without it: a profile decides how the code is compiled, never what it computes.
#
# When: after a change to the simulation's hot path (sim-core, link, tcp-model, the engine).
# A profile older than the code still builds and still gives the same results; the functions
# that changed just lose its guidance, and the build gets slower by that much.
#
# How: an instrumented tcpsim (its own target directory, so that the normal build stays as
# it is) runs a fixed training set single-threaded, so that the hot paths' counts depend only
# on the code: every experiment of `reproduce` (each model path a user's experiment takes),
# bench-a and bench-b (the speed workloads: 1 M clean lifecycles and 1 M at 1 % loss), and two
# traces. A few cold counts (formatting the wall time) vary, so the file's bytes do too.
# llvm-profdata merges the counts; it comes with rustup's llvm-tools component, installed here
# if missing. The LLVM version is written beside the profile: .cargo/pgo-rustc uses the profile
# only with a rustc of that LLVM.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
GEN="$ROOT/target/pgo-gen"
RAW="$GEN/profraw"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

SYSROOT=$(rustc --print sysroot)
HOST=$(rustc -vV | sed -n 's/^host: //p')
PROFDATA="$SYSROOT/lib/rustlib/$HOST/bin/llvm-profdata"
if [ ! -x "$PROFDATA" ]; then
    rustup component add llvm-tools
fi

# TCPSIM_NO_PGO: the wrapper must not add the old profile to the instrumented build (it
# still fixes the symbol names, as in the builds that will use the profile). The workspace's
# crates are always rebuilt: cargo does not see a change of the wrapper.
rm -rf "$RAW"
CARGO_TARGET_DIR="$GEN" cargo clean -q --release -p sim-time -p sim-core -p link -p tcp-model \
    -p experiment -p pcap -p plot -p tcpsim
TCPSIM_NO_PGO=1 CARGO_TARGET_DIR="$GEN" RUSTFLAGS="-Cprofile-generate=$RAW" \
    cargo build --release -q -p tcpsim
# Only the training runs' counts: the build itself may have run instrumented code.
rm -rf "$RAW"
BIN="$GEN/release/tcpsim"

export LLVM_PROFILE_FILE="$RAW/%p-%m.profraw"
"$BIN" reproduce --threads 1 --results "$WORK/results" >/dev/null
for b in bench-a bench-b; do
    "$BIN" run "experiments/$b.toml" --threads 1 --out "$WORK/$b" >/dev/null
done
"$BIN" trace experiments/basic.toml --connection 3 --set link.loss=0.3 \
    --pcap "$WORK/trace.pcap" --out "$WORK/trace.txt"
"$BIN" trace experiments/basic.toml --connection 0 --format ladder --out "$WORK/ladder.txt"

mkdir -p benches/pgo
"$PROFDATA" merge --sparse -o benches/pgo/tcpsim.profdata "$RAW"
rustc -vV | sed -n 's/^LLVM version: //p' >benches/pgo/llvm-version
rm -rf "$RAW"
ls -l benches/pgo/
echo "now rebuild (cargo build --release) and commit benches/pgo/"
