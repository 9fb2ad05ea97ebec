#!/usr/bin/env bash
# fnshim as an AWS Lambda Runtime API client, under cargo-lambda's emulator
# (`cargo lambda watch --only-lambda-apis`), against AWS's own Python client (awslambdaric):
# invocations/s, p50 and p99 at 1 and 4 concurrent callers of a hello handler, and the time
# from exec to the first /invocation/next. See bench/README.md ("Lambda Runtime API client").
#   bench/lambda.sh            BENCH_SECONDS=5 per run
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
cd "$ROOT"

SECS=${BENCH_SECONDS:-5}
BIN=$ROOT/target/x86_64-unknown-linux-gnu/release/fnshim
WORK=$(mktemp -d /tmp/fnshim-bench-lambda.XXXXXX)
PY=$(python3 -c 'import sys; print(sys.executable)')

command -v cargo-lambda >/dev/null 2>&1 || python3 -m pip install --quiet cargo-lambda
log "cargo build --release"
cargo build --release
[[ -x $BIN ]] || die "release binary not found at $BIN"
VENV=$ROOT/target/bench-lambda/ric # kept between runs
if [[ ! -x $VENV/bin/python ]]; then
  log "awslambdaric into a virtualenv"
  "$PY" -m venv "$VENV" && "$VENV/bin/pip" install --quiet awslambdaric
fi
RIC=("$VENV/bin/python" -m awslambdaric main.handler)

# emulator -> sets EMU_PORT and EMU_PID: a fresh emulator (it keeps stale invocations queued).
emulator() {
  local dir
  dir=$(mktemp -d "$WORK/emu.XXXXXX")
  mkdir -p "$dir/src" && echo 'fn main() {}' >"$dir/src/main.rs"
  printf '[package]\nname = "emu"\nversion = "0.0.0"\nedition = "2021"\n' >"$dir/Cargo.toml"
  EMU_PORT=$(free_port)
  (cd "$dir" && exec cargo-lambda lambda watch --only-lambda-apis -A 127.0.0.1 -P "$EMU_PORT") \
    >"$dir/log" 2>&1 &
  EMU_PID=$!
  local t0=$SECONDS
  until (exec 3<>"/dev/tcp/127.0.0.1/$EMU_PORT") 2>/dev/null; do
    ((SECONDS - t0 < 30)) || die "the emulator did not listen on $EMU_PORT"
    sleep 0.05
  done
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
load() { "$PY" "$ROOT/bench/lambda/load.py" "$EMU_PORT" "$1" "$2"; }
field() { "$PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# fnshim_run LANG CALLERS MAX_CONCURRENCY -> one table row
fnshim_run() {
  local lang=$1 callers=$2 slots=$3 logf="$WORK/fnshim-$1-$2-$3.log" pid t0 result
  emulator
  AWS_LAMBDA_RUNTIME_API="127.0.0.1:$EMU_PORT/.rt" AWS_LAMBDA_MAX_CONCURRENCY=$slots \
    FUNCTION_PATH="$ROOT/bench/functions/$lang" CACHE_DIR="$WORK/cache-$lang" LOG_FORMAT=json \
    "$BIN" 2>"$logf" &
  pid=$!
  t0=$SECONDS
  until grep -q 'polling the Lambda Runtime API' "$logf"; do
    alive "$pid" || die "fnshim exited: $(tail -3 "$logf")"
    ((SECONDS - t0 < 60)) || die "fnshim never polled"
    sleep 0.05
  done
  load "$callers" 1 >/dev/null # warm-up
  result=$(load "$callers" "$SECS")
  echo "| fnshim ($lang), AWS_LAMBDA_MAX_CONCURRENCY=$slots | $callers | $(field "$result" per_s) | $(field "$result" p50_us) | $(field "$result" p99_us) | $(field "$result" failed) |"
  stop "$pid"
  stop "$EMU_PID"
}

# ric_run CALLERS -> one table row, or why there is none
ric_run() {
  local callers=$1 pid result code
  emulator
  (cd "$ROOT/bench/functions/python" && AWS_LAMBDA_RUNTIME_API="127.0.0.1:$EMU_PORT/.rt" \
    exec "${RIC[@]}") >"$WORK/ric.log" 2>&1 &
  pid=$!
  result=$(load 1 1)
  if [[ $(field "$result" ok) == 0 ]]; then
    code=0
    wait "$pid" 2>/dev/null || code=$?
    echo "| awslambdaric (python) | $callers | — | — | — | no answer: the client exited with $code after taking the first event ($( ((code == 139)) && echo SIGSEGV)) |"
    stop "$EMU_PID"
    return
  fi
  result=$(load "$callers" "$SECS")
  echo "| awslambdaric (python) | $callers | $(field "$result" per_s) | $(field "$result" p50_us) | $(field "$result" p99_us) | $(field "$result" failed) |"
  stop "$pid"
  stop "$EMU_PID"
}

echo "| client | callers | invocations/s | p50 µs | p99 µs | failed |"
echo "|---|---:|---:|---:|---:|---|"
for lang in python node; do
  fnshim_run "$lang" 1 1
  fnshim_run "$lang" 4 1
  fnshim_run "$lang" 4 4
done
ric_run 1
echo
echo "| client | exec → first /next, median of 10 (min) |"
echo "|---|---|"
# Every client runs the real interpreter (`$PY`, not a version manager's python3 shim, which
# adds its own start-up): fnshim finds it first on PATH.
REAL_PATH="$(dirname "$PY"):$PATH"
for lang in python node; do
  r=$(PATH="$REAL_PATH" FUNCTION_PATH="$ROOT/bench/functions/$lang" CACHE_DIR="$WORK/cache-$lang" \
    "$PY" "$ROOT/bench/lambda/first_next.py" 10 -- "$BIN")
  echo "| fnshim ($lang handler, worker ready) | $(field "$r" median_ms) ms ($(field "$r" min_ms) ms) |"
done
r=$(cd "$ROOT/bench/functions/python" && "$PY" "$ROOT/bench/lambda/first_next.py" 10 -- "${RIC[@]}")
echo "| awslambdaric (python) | $(field "$r" median_ms) ms ($(field "$r" min_ms) ms) |"
# The language runtime's own start: the bare interpreter asking for /next once, nothing else
# (the baseline of the 10 ms target, as bench/handlers.sh's start-up rows use).
NEXT_PY='import os, socket
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
s = socket.create_connection((host, int(port)))
s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(1)'
NEXT_JS='const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const s = require("net").connect(Number(port), host, () => s.write("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"));'

r=$("$PY" "$ROOT/bench/lambda/first_next.py" 10 -- "$PY" -c "$NEXT_PY")
echo "| bare python3 asking for /next (the runtime's own start) | $(field "$r" median_ms) ms ($(field "$r" min_ms) ms) |"
r=$("$PY" "$ROOT/bench/lambda/first_next.py" 10 -- node -e "$NEXT_JS")
echo "| bare node asking for /next (the runtime's own start) | $(field "$r" median_ms) ms ($(field "$r" min_ms) ms) |"
