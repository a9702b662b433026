#!/bin/sh
# Issue 4, item 4: does the cost per connection stay flat as runs grow longer and as more
# connections are alive at once? Runs the bench-a workload (100k arrivals/s, 10 ms link,
# linux profile, 64 server ports, one thread) along two axes and prints one line a run:
#
# - connections 10k .. 10M with a 100 ms TIME-WAIT (msl 50 ms): ~10k alive throughout;
# - connections alive 100 .. 6M: the TIME-WAIT length sets how many are alive
#   (alive ≈ 100k/s × TIME-WAIT; 6 M needs bench-6m's 7 M connections and 256 ports).
#
#   benches/scaling.sh          # both axes, ~3 min and ~0.5 GB at the largest point
set -eu
cd "$(dirname "$0")/.."
cargo build --release -q -p tcpsim
BIN=target/release/tcpsim
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

one() { # label file overrides...
    label=$1
    file=$2
    shift 2
    /usr/bin/time -v "$BIN" run "$file" --threads 1 --out "$OUT/run" "$@" \
        >"$OUT/stdout" 2>"$OUT/stderr"
    cps=$(grep -o '[0-9]* connections/s' "$OUT/stderr" | cut -d' ' -f1)
    rss=$(grep 'Maximum resident' "$OUT/stderr" | awk '{ print $NF }')
    peak=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "time_wait_peak_client") c = i }
                    NR == 2 { print $c }' "$OUT/run/summary.csv")
    printf '%-28s %10s connections/s  TIME-WAIT peak %8s  peak RSS %8s kB\n' \
        "$label" "$cps" "$peak" "$rss"
}

echo "# connections (100 ms TIME-WAIT)"
for n in 10000 100000 1000000 10000000; do
    one "connections=$n" experiments/bench-a.toml \
        --set "workload.connections=$n" --set tcp.msl=50ms
done
echo "# alive at once (1 M connections; TIME-WAIT 1 ms, 100 ms, 10 s; then bench-6m)"
for msl in 500us 50ms 5s; do
    one "msl=$msl" experiments/bench-a.toml --set "tcp.msl=$msl"
done
one "bench-6m" experiments/bench-6m.toml
