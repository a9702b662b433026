#!/usr/bin/env bash
# Build the ns-3 peer program (/work/shared/peers/ns3/tcp_lifecycles.cc, not in this repo)
# against Debian's libns3-dev 3.37 into $NS3_BUILD_DIR (default /tmp/tcpsim-ns3).
#   apt-get install -y libns3-dev ns3
# Debian's ns3-*.pc files are unusable (malformed Cflags), so the libraries are named here.
set -euo pipefail
SRC=${NS3_PEER_DIR:-/work/shared/peers/ns3}/tcp_lifecycles.cc
OUT=${NS3_BUILD_DIR:-/tmp/tcpsim-ns3}
mkdir -p "$OUT"
${CXX:-g++} -std=c++17 -O2 -o "$OUT/tcp_lifecycles" "$SRC" \
  -lns3-applications -lns3-point-to-point -lns3-internet -lns3-network -lns3-core
echo "built $OUT/tcp_lifecycles"
