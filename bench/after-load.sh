#!/usr/bin/env bash
# fnshim's memory after a load, and whether it wakes up once idle (issue 14): `fnshim -- node
# bench/upstreams/node-hello.js`, wrk -t2 -c64 for BENCH_SECONDS (default 3) on 127.0.0.1,
# then VmRSS and the sockets fnshim holds 1 s, 6 s and 11 s after the load, and the context
# switches of all fnshim's threads during the 10 s after that (0 = no wake-up while idle).
#
#     bench/after-load.sh                 # the release build
#     FNSHIM_BENCH_BIN=path bench/after-load.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source "$ROOT/bench/lib.sh"
SECS=${BENCH_SECONDS:-3}
[[ $SECS =~ ^[0-9]+$ ]] && ((SECS > 0 && SECS <= 60)) || die "BENCH_SECONDS must be 1..60"
BIN=${FNSHIM_BENCH_BIN:-$ROOT/target/x86_64-unknown-linux-gnu/release/fnshim}
if [[ -z ${FNSHIM_BENCH_BIN:-} ]]; then cargo build --release; fi
need wrk
RAW=$ROOT/bench/results/raw
mkdir -p "$RAW"
rss() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
sockets() { ls -l "/proc/$1/fd" 2>/dev/null | grep -c socket || true; }
switches() { # voluntary + involuntary, every thread
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

port=$(free_port)
env -u FUNCTION_PATH LOG_LEVEL=info LOG_FORMAT=json PORT="$port" \
  "$BIN" -- node "$ROOT/bench/upstreams/node-hello.js" >/dev/null 2>"$RAW/after-load-fnshim.log" &
pid=$!
wait_code "http://127.0.0.1:$port/_/ready" 200 "$pid" "fnshim"
sleep 1
idle=$(rss "$pid")
timeout -k 5 $((SECS + 30)) wrk -t2 -c64 -d"${SECS}s" "http://127.0.0.1:$port/" >"$RAW/after-load-wrk.txt" 2>&1 ||
  die "wrk failed, see $RAW/after-load-wrk.txt"
row="| idle $idle kB |"
for at in 1 6 11; do
  sleep $((at == 1 ? 1 : 5))
  row+=" ${at} s after: $(rss "$pid") kB, $(sockets "$pid") sockets |"
done
before=$(switches "$pid")
sleep 10
row+=" context switches in the next 10 s: $(($(switches "$pid") - before)) |"
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
echo "$row"
