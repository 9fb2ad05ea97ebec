#!/usr/bin/env bash
# Google Cloud Functions code under fnshim, two ways (issue 13), measured in ONE run:
#   adapter:  FUNCTION_TARGET=hello fnshim          (fnshim's adapters run the function)
#   ff-proxy: PORT=… fnshim -- <the Functions Framework> --target=hello (the Framework behind
#             fnshim's proxy)
#   ff-alone: the Functions Framework by itself (the reference: what Cloud Functions runs)
# for the same unmodified function in Node (bench/functions/gcf-node) and Python
# (bench/functions/gcf-python), with wrk keep-alive at 1 connection and 64 connections,
# 127.0.0.1 only, each run bounded by BENCH_SECONDS (default 3). The Frameworks come from
# target/gcf (scripts/test.sh installs them). Prints a Markdown table.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH_SECONDS=${BENCH_SECONDS:-3}
[[ $BENCH_SECONDS =~ ^[0-9]+$ ]] && ((BENCH_SECONDS > 0)) || { echo "bench: BENCH_SECONDS must be a whole number > 0" >&2; exit 64; }
unset FUNCTION_PATH FUNCTION_ENTRY FUNCTION_HANDLER FUNCTION_RUNTIME FUNCTION_WORKERS FUNCTION_TARGET \
  FUNCTION_SIGNATURE_TYPE FUNCTION_CONCURRENCY TRIGGER_TYPE RUNTIME_CONFIG WORKERS THREADS
BENCH=$ROOT/bench
LUA=$BENCH/wrk-report.lua
BIN=${FNSHIM_BIN:-$ROOT/target/x86_64-unknown-linux-gnu/release/fnshim}
NODE_MODULES=$ROOT/target/gcf/node/node_modules
PY_SITE=$ROOT/target/gcf/python
RAW=$(mktemp -d)
source "$ROOT/bench/lib.sh"
need wrk
need curl
[[ -x $BIN ]] || die "no fnshim at $BIN: cargo build --release"
[[ -d $NODE_MODULES/@google-cloud/functions-framework && -d $PY_SITE/functions_framework ]] ||
  die "the Functions Frameworks are not under target/gcf: run scripts/test.sh (or its install lines)"
# The Node function's folder gets the Framework as `npm install` would leave it.
NODE_FN=$RAW/gcf-node
cp -r "$BENCH/functions/gcf-node" "$NODE_FN"
ln -s "$NODE_MODULES" "$NODE_FN/node_modules"
export PYTHONPATH=$PY_SITE

# start NAME PORT CMD...: runs CMD in the background (logs to $RAW/NAME.log), waits for 200.
start() {
  local name=$1 port=$2
  shift 2
  "$@" >"$RAW/$name.log" 2>&1 &
  PIDS+=("$!")
  wait_code "http://127.0.0.1:$port/" 200 "$!" "$name" 60
}

field() { grep -o "$1=[0-9]*" "$2" | head -1 | cut -d= -f2; }
rps_of() { awk -v r="$(field requests "$1")" -v d="$(field duration_us "$1")" 'BEGIN { printf "%.0f", r / (d / 1e6) }'; }

# measure NAME PORT: prints one Markdown row (p50 and req/s at 1 and 64 connections).
measure() {
  local name=$1 port=$2 url="http://127.0.0.1:$2/"
  run_wrk "$RAW/$name.warm" 1 4 1 "$url" || true
  run_wrk "$RAW/$name.c1" 1 1 "$BENCH_SECONDS" "$url" || die "wrk failed on $name"
  run_wrk "$RAW/$name.c64" 2 64 "$BENCH_SECONDS" "$url" || die "wrk failed on $name"
  local p50_1 rps_1 p50_64 rps_64
  p50_1=$(field p50_us "$RAW/$name.c1")
  rps_1=$(rps_of "$RAW/$name.c1")
  p50_64=$(field p50_us "$RAW/$name.c64")
  rps_64=$(rps_of "$RAW/$name.c64")
  (($(field status "$RAW/$name.c64") + $(field status "$RAW/$name.c1") == 0)) || die "$name answered non-2xx statuses"
  printf '| %s | %s | %.0f | %s | %.0f |\n' "$name" "$p50_1" "$rps_1" "$p50_64" "$rps_64"
  RPS[$name]=$rps_64
}

declare -A RPS
PIDS=()
P=()
for _ in 1 2 3 4 5 6 7; do P+=("$(free_port)"); done
start node-adapter "${P[0]}" env PORT="${P[0]}" FUNCTION_PATH="$NODE_FN" FUNCTION_TARGET=hello "$BIN"
start node-ff-proxy "${P[1]}" env PORT="${P[1]}" FUNCTION_PATH="$NODE_FN" "$BIN" -- \
  node "$NODE_MODULES/.bin/functions-framework" --target=hello --source="$NODE_FN"
start node-ff-alone "${P[2]}" env PORT="${P[2]}" node "$NODE_MODULES/.bin/functions-framework" \
  --target=hello --source="$NODE_FN"
start python-adapter "${P[3]}" env PORT="${P[3]}" FUNCTION_PATH="$BENCH/functions/gcf-python" \
  FUNCTION_TARGET=hello FUNCTION_WORKERS=1 "$BIN"
start python-adapter-defaults "${P[6]}" env PORT="${P[6]}" FUNCTION_PATH="$BENCH/functions/gcf-python" \
  FUNCTION_TARGET=hello "$BIN"
start python-ff-proxy "${P[4]}" env PORT="${P[4]}" "$BIN" -- python3 -m functions_framework \
  --target=hello --source="$BENCH/functions/gcf-python/main.py"
start python-ff-alone "${P[5]}" env PORT="${P[5]}" python3 -m functions_framework \
  --target=hello --source="$BENCH/functions/gcf-python/main.py"
for i in 0 3; do
  body=$(curl -s "http://127.0.0.1:${P[$i]}/")
  [[ $body == '{"message":"hello"}' || $body == '{"message":"hello"}'$'\n' ]] || die "unexpected body from port ${P[$i]}: $body"
done

echo "wrk keep-alive, ${BENCH_SECONDS}s per run, 127.0.0.1; one fnshim worker each (python-adapter: FUNCTION_WORKERS=1; python-adapter-defaults: fnshim's default, one per CPU)"
echo
echo '| series | p50 µs (1 conn) | req/s (1 conn) | p50 µs (64 conns) | req/s (64 conns) |'
echo '|---|---|---|---|---|'
i=0
for name in node-adapter node-ff-proxy node-ff-alone python-adapter python-ff-proxy python-ff-alone \
  python-adapter-defaults; do
  measure "$name" "${P[$i]}"
  i=$((i + 1))
done
echo
for lang in node python; do
  awk -v l="$lang" -v a="${RPS[$lang-adapter]}" -v p="${RPS[$lang-ff-proxy]}" -v f="${RPS[$lang-ff-alone]}" \
    'BEGIN { printf "%s at 64 connections: adapter / Framework behind the proxy = %.2f×, adapter / Framework alone = %.2f×\n", l, a / p, a / f }'
done
