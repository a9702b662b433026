#!/bin/sh
# Watches a shared machine for a fast minute and measures the standard workloads in it.
#
#   benches/probe.sh                    # until interrupted, or LIMIT probes (default 240)
#   THRESHOLD=900000 benches/probe.sh   # bench-a connections/s that counts as fast
#
# On a VM whose CPUs change speed from minute to minute (see benches/RESULTS.md, session
# 13), a figure means little without the machine's speed beside it. Every INTERVAL seconds
# (default 60) this times a fixed integer loop in awk (almost no memory traffic: it reads
# the CPU's speed, not the cache's) and one bench-a run, and prints both. When bench-a
# reaches THRESHOLD (default 740000), it runs bench-a, bench-b and bench-c (all cores)
# RUNS times each (default 5) at once, and prints every run. Stop it with Ctrl-C.
# Needs /usr/bin/time (Debian: package `time`); nothing under results/ is touched.
set -eu
cd "$(dirname "$0")/.."
INTERVAL=${INTERVAL:-60}
THRESHOLD=${THRESHOLD:-740000}
RUNS=${RUNS:-5}
LIMIT=${LIMIT:-240}
CORES=$(nproc)
cargo build --release -q -p tcpsim
BIN=target/release/tcpsim
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# Seconds the loop takes: 3 M steps of a linear congruential generator.
loop_s() {
    t0=$(date +%s.%N)
    awk 'BEGIN { x = 0; for (i = 0; i < 3000000; i++) x = (x * 69069 + 1) % 4294967296; print x }' \
        >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

# connections/s and peak RSS (kB) of one run: name threads
one() {
    /usr/bin/time -v "$BIN" run "experiments/$1.toml" --threads "$2" --out "$OUT/run" \
        >"$OUT/stdout" 2>"$OUT/stderr"
    c=$(grep -o '[0-9]* connections/s' "$OUT/stderr" | cut -d' ' -f1)
    r=$(grep 'Maximum resident' "$OUT/stderr" | awk '{ print $NF }')
    echo "$c $r"
}

n=0
while [ "$n" -lt "$LIMIT" ]; do
    n=$((n + 1))
    l=$(loop_s)
    set -- $(one bench-a 1)
    echo "$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg) loop ${l}s bench-a $1/s"
    if [ "$1" -ge "$THRESHOLD" ]; then
        for w in "bench-a 1" "bench-b 1" "bench-c $CORES"; do
            set -- $w
            runs=""
            i=0
            while [ "$i" -lt "$RUNS" ]; do
                runs="$runs $(one "$1" "$2" | tr ' ' '/')"
                i=$((i + 1))
            done
            echo "$(date +%H:%M:%S)   $1 on $2 thread(s), connections/s/peak RSS kB:$runs (loop after: $(loop_s)s)"
        done
    fi
    sleep "$INTERVAL"
done
