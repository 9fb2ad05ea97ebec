#!/usr/bin/env bash
# What a warm dependency stamp costs at start-up (SPEC §6, issue target: < 5 ms).
#
# One node function depending on one npm package, installed once; then RUNS starts with the
# stamp warm against RUNS starts of the same function with no package.json at all. Reported:
# fnshim's own measure of its dependency phase ("dependencies ready", took_us) and the time from
# exec to the first 200, median of each series. Loopback only; every process is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
cargo build --release --quiet
bin=$PWD/target/x86_64-unknown-linux-gnu/release/fnshim
work=$(mktemp -d)
trap 'pkill -f "$bin" 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$work/with" "$work/without"
printf '{"name":"stamp-bench","version":"1.0.0","dependencies":{"is-number":"7.0.0"}}\n' > "$work/with/package.json"
printf "const isNumber = require('is-number');\nexports.handler = async () => ({ ok: isNumber(1) });\n" > "$work/with/index.js"
printf "exports.handler = async () => ({ ok: true });\n" > "$work/without/index.js"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# One start: prints "<exec to first 200 in µs> <took_us of the dependency phase or ->".
start_once() {
  local folder=$1 log=$work/run.log t0 t1
  t0=$(date +%s%6N)
  FUNCTION_PATH=$folder CACHE_DIR=$work/cache PORT=$port LOG_FORMAT=json "$bin" 2>"$log" &
  local pid=$!
  until curl -fs -o /dev/null "http://127.0.0.1:$port/"; do
    kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.002
  done
  t1=$(date +%s%6N)
  kill -TERM $pid; wait $pid || true
  local took
  took=$(sed -n 's/.*"message":"dependencies ready".*"took_us":\([0-9]*\).*/\1/p; s/.*"took_us":\([0-9]*\).*"message":"dependencies ready".*/\1/p' "$log" | head -n1)
  echo "$((t1 - t0)) ${took:--}"
}

start_once "$work/with" >/dev/null   # installs and writes the stamp
start_once "$work/without" >/dev/null
: > "$work/with.txt"; : > "$work/without.txt"
for _ in $(seq "$RUNS"); do
  start_once "$work/with" >> "$work/with.txt"
  start_once "$work/without" >> "$work/without.txt"
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ready_with=$(cut -d' ' -f1 "$work/with.txt" | median)
ready_without=$(cut -d' ' -f1 "$work/without.txt" | median)
stamp_us=$(cut -d' ' -f2 "$work/with.txt" | median)
verdict=$(awk -v s="$stamp_us" 'BEGIN {print (s < 5000 ? "PASS" : "FAIL")}')
cat <<EOT
# Warm dependency stamp: start-up cost ($RUNS starts each, medians, $(date -u '+%Y-%m-%d %H:%M UTC'))

| series | exec to first 200 (µs) | dependency phase, fnshim's took_us |
|---|---:|---:|
| node function with package.json, stamp warm | $ready_with | $stamp_us |
| same function, no package.json | $ready_without | - |

| check | measured | target | |
|---|---|---|---|
| stamp check (dependency phase with a warm stamp) | $stamp_us µs | < 5000 µs | $verdict |
| difference in time to first 200 (includes run-to-run noise) | $((ready_with - ready_without)) µs | informative | |
EOT
