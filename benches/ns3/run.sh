#!/usr/bin/env bash
# Side by side: the ns-3 peer program and tcpsim on the same workload.
#
#   benches/ns3/run.sh ns3    [REPS] [N]   ns-3: N lifecycles (default 100000), REPS runs (3)
#   benches/ns3/run.sh tcpsim [REPS]       tcpsim: benches/ns3/tcpsim-equivalent.toml, REPS runs
#
# Workload (both): open-loop arrivals 10,000/s at fixed spacing, one 10 ms point-to-point link,
# client closes first right after the handshake (7 segments: SYN, SYN-ACK, ACK, FIN, ACK, FIN,
# ACK; no data), TIME-WAIT 100 ms (ns-3 --msl=0.05, tcpsim msl = "50ms").
# Every run goes through /usr/bin/time -v; raw output goes to $OUT (default /tmp/tcpsim-ns3/results)
# and one line per run is printed: label, rep, wall s, peak RSS KiB, load average before.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${NS3_BUILD_DIR:-/tmp/tcpsim-ns3}
OUT=${OUT:-$BUILD/results}
mkdir -p "$OUT"
mode=${1:?usage: run.sh ns3|tcpsim [REPS] [N]}
reps=${2:-3}

line() { # line LABEL REP TIMEFILE
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$3" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$3" | awk '{print $NF}')
  printf '%s\trep=%s\twall=%s\tmaxrss_kb=%s\tload1_before=%s\n' "$1" "$2" "$wall" "$rss" "$4"
}

case "$mode" in
  ns3)
    n=${3:-100000}
    [ -x "$BUILD/tcp_lifecycles" ] || "$ROOT/benches/ns3/build.sh"
    for r in $(seq 1 "$reps"); do
      load1=$(cut -d' ' -f1 /proc/loadavg)
      f=$OUT/ns3_$n.r$r
      /usr/bin/time -v "$BUILD/tcp_lifecycles" --rate=10000 --delayMs=10 --dataRate=1Gbps \
        --seed=1 --run=1 --msl=0.05 --n="$n" > "$f.txt" 2> "$f.time"
      grep -E "^(started|packets_tx|events|wall_setup|conns_per_wall)" "$f.txt"
      line "ns3_$n" "$r" "$f.time" "$load1"
    done ;;
  tcpsim)
    (cd "$ROOT" && cargo build --release -p tcpsim)
    for r in $(seq 1 "$reps"); do
      load1=$(cut -d' ' -f1 /proc/loadavg)
      f=$OUT/tcpsim.r$r
      (cd "$ROOT" && /usr/bin/time -v ./target/release/tcpsim run \
        benches/ns3/tcpsim-equivalent.toml --threads 1 --out "$OUT/tcpsim-out") \
        > "$f.txt" 2> "$f.time"
      grep -E "connections/s" "$f.time" || true
      line tcpsim "$r" "$f.time" "$load1"
    done ;;
  *) echo "usage: run.sh ns3|tcpsim [REPS] [N]" >&2; exit 2 ;;
esac
