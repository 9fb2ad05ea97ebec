#!/usr/bin/env bash
# Instructions per request of fnshim's own process in handler mode (issue 14), immune to the
# VM's noise: fnshim serves bench/functions/node (one Node worker, its default) under callgrind
# with --trace-children=no (the worker runs natively and is not counted), twice: once idle
# (started, ready, stopped) and once serving a fixed count of wrk requests at 64 connections.
# (Ir of the load run - Ir of the idle run) / (invocations logged in the load run - in the
# idle run). Prints the figure and writes callgrind_annotate's inclusive and exclusive views.
#
#   BENCH_CALLGRIND_REQUESTS  requests of the load run (default 5000)
#   FNSHIM_BIN                the binary (default: the `profiling` build, symbols kept)
#   BENCH_FUNCTION            node (default) or python (bench/functions/python, its default
#                             workers: one per CPU, one call at a time each)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
source "$ROOT/bench/peers.sh"
BENCH_CALLGRIND_REQUESTS=${BENCH_CALLGRIND_REQUESTS:-5000}
[[ $BENCH_CALLGRIND_REQUESTS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CALLGRIND_REQUESTS must be a positive integer"
need valgrind
need wrk
BENCH_FUNCTION=${BENCH_FUNCTION:-node}
[[ $BENCH_FUNCTION == node || $BENCH_FUNCTION == python ]] || die "BENCH_FUNCTION must be node or python"
BIN=${FNSHIM_BIN:-$ROOT/target/x86_64-unknown-linux-gnu/profiling/fnshim}
[[ -x $BIN ]] || die "no $BIN: cargo build --profile profiling"
RAW=$ROOT/bench/results/raw-callgrind-handlers
[[ $BENCH_FUNCTION == node ]] || RAW=$RAW-$BENCH_FUNCTION
mkdir -p "$RAW"

invocations() { grep -c '"message":"invocation"' "$1" 2>/dev/null || true; }

run() { # KIND (idle|load) -> IR, REQS
  local kind=$1 port out=$RAW/$1.out logf=$RAW/$1.log pid wrk_pid t0=$SECONDS
  port=$(free_port)
  env -u FUNCTION_TARGET -u WORKERS -u FUNCTION_CONCURRENCY LOG_LEVEL=info LOG_FORMAT=json \
    FUNCTION_PATH="$ROOT/bench/functions/$BENCH_FUNCTION" PORT="$port" \
    valgrind --tool=callgrind --trace-children=no --log-file="$RAW/$kind.valgrind.txt" \
    --callgrind-out-file="$out" "$BIN" >/dev/null 2>"$logf" &
  pid=$!
  wait_code "http://127.0.0.1:$port/" 200 "$pid" "fnshim under callgrind" 180
  if [[ $kind == load ]]; then
    WRK_REQUESTS_PER_THREAD=$((BENCH_CALLGRIND_REQUESTS / 2)) \
      wrk -t2 -c64 -d280s --timeout 30s -s "$ROOT/bench/wrk-count.lua" "http://127.0.0.1:$port/" \
      >"$RAW/$kind.wrk.txt" 2>&1 &
    wrk_pid=$!
    while alive "$wrk_pid" && (($(invocations "$logf") < BENCH_CALLGRIND_REQUESTS && SECONDS - t0 < 290)); do
      sleep 0.2
    done
    sleep 1 # the last answers in flight
    kill -INT "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" 2>/dev/null || true
  fi
  stop_pid "$pid"
  IR=$(callgrind_total "$out")
  REQS=$(invocations "$logf")
}


run idle
idle_ir=$IR idle_reqs=$REQS
run load
load_ir=$IR load_reqs=$REQS
((load_reqs > idle_reqs)) || die "the load run served no requests"
per=$(((load_ir - idle_ir) / (load_reqs - idle_reqs)))
callgrind_annotate --inclusive=yes "$RAW/load.out" 2>/dev/null | head -n 120 >"$RAW/load.inclusive.txt" || true
callgrind_annotate "$RAW/load.out" 2>/dev/null | head -n 80 >"$RAW/load.exclusive.txt" || true
echo "fnshim handler mode ($BENCH_FUNCTION, its default workers), wrk -c64: $per instructions per request" \
  "(load $load_ir Ir / $load_reqs requests, idle $idle_ir Ir / $idle_reqs)"
