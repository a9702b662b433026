#!/bin/sh
# Runs the standard speed workloads (experiments/bench-*.toml) RUNS times each and prints
# the median connections/s, events/s and peak RSS, as recorded in benches/RESULTS.md.
#
#   benches/standard.sh            # bench-a, bench-b, bench-c on 1 and all threads, 3 runs each
#   RUNS=5 benches/standard.sh bench-a
#   benches/standard.sh bench-6m   # 7 M lifecycles, 6 M alive: ~1.5 min a run, ~0.5 GB
#
# Needs /usr/bin/time (Debian: package `time`). tcpsim prints its speed on stderr. Output of
# the runs goes to a temporary directory; nothing under results/ is touched.
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
CORES=$(nproc)
cargo build --release -q -p tcpsim
BIN=target/release/tcpsim
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

measure() { # name threads
    : >"$OUT/cps"; : >"$OUT/eps"; : >"$OUT/rss"
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        /usr/bin/time -v "$BIN" run "experiments/$1.toml" --threads "$2" --out "$OUT/run" \
            >"$OUT/stdout" 2>"$OUT/stderr"
        # "N connections, E events in S s wall on T thread(s): C connections/s, V events/s"
        grep -o '[0-9]* connections/s' "$OUT/stderr" | cut -d' ' -f1 >>"$OUT/cps"
        grep -o '[0-9]* events/s' "$OUT/stderr" | cut -d' ' -f1 >>"$OUT/eps"
        grep 'Maximum resident' "$OUT/stderr" | awk '{ print $NF }' >>"$OUT/rss"
        i=$((i + 1))
    done
    printf '%-9s %2s thread(s): median %8s connections/s %9s events/s  peak RSS %7s kB  (runs: %s)\n' \
        "$1" "$2" "$(median <"$OUT/cps")" "$(median <"$OUT/eps")" "$(median <"$OUT/rss")" \
        "$(tr '\n' ' ' <"$OUT/cps")"
}

if [ "$#" -eq 0 ]; then
    set -- bench-a bench-b bench-c
fi
for b in "$@"; do
    measure "$b" 1
    if [ "$b" = bench-c ] && [ "$CORES" -gt 1 ]; then
        measure "$b" "$CORES"
    fi
done
