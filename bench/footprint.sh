#!/usr/bin/env bash
# fnshim's memory per idle keep-alive client connection (issue 15): `fnshim -- node
# bench/upstreams/node-hello.js`, then BENCH_IDLE_CONNECTIONS (default 1000) client connections
# that each made one request and stay open; (VmRSS with them open - VmRSS before) / count.
#
#     bench/footprint.sh                 # the release build
#     FNSHIM_BENCH_BIN=path bench/footprint.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source "$ROOT/bench/lib.sh"
N=${BENCH_IDLE_CONNECTIONS:-1000}
[[ $N =~ ^[0-9]+$ ]] && ((N > 0 && N <= 20000)) || die "BENCH_IDLE_CONNECTIONS must be 1..20000"
BIN=${FNSHIM_BENCH_BIN:-$ROOT/target/x86_64-unknown-linux-gnu/release/fnshim}
if [[ -z ${FNSHIM_BENCH_BIN:-} ]]; then cargo build --release; fi
need python3
ulimit -n $((N * 3 + 256)) 2>/dev/null || die "cannot raise the descriptor limit for $N connections"
RAW=$ROOT/bench/results/raw
mkdir -p "$RAW"
rss() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }

port=$(free_port)
env -u FUNCTION_PATH LOG_LEVEL=info LOG_FORMAT=json PORT="$port" MAX_CONNECTIONS=$((N + 100)) \
  "$BIN" -- node "$ROOT/bench/upstreams/node-hello.js" >/dev/null 2>"$RAW/footprint-fnshim.log" &
pid=$!
wait_code "http://127.0.0.1:$port/_/ready" 200 "$pid" "fnshim"
curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$port/" # the first upstream connection
sleep 1
before=$(rss "$pid")
coproc CLIENTS { timeout -k 5 300 python3 "$ROOT/bench/footprint.py" "$port" "$N"; }
read -r -t 240 line <&"${CLIENTS[0]}" || die "the $N client connections did not open"
[[ $line == open ]] || die "unexpected client output: $line"
sleep 1
with=$(rss "$pid")
upstream=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -c socket || true)
kill "$CLIENTS_PID" 2>/dev/null || true
wait "$CLIENTS_PID" 2>/dev/null || true
awk -v b="$before" -v w="$with" -v n="$N" -v s="$upstream" 'BEGIN {
  printf "| %d idle keep-alive connections | VmRSS before %d kB | with them open %d kB | %.1f KiB per connection | sockets held by fnshim: %d |\n", n, b, w, (w - b) / n, s }'
