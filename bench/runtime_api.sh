#!/usr/bin/env bash
# Lambda-style bootstraps: the same Runtime API client (tests/fixtures/lambda/curl-bootstrap, a
# sh + curl custom runtime in the style of AWS's tutorial) under fnshim's Runtime API server and
# under cargo-lambda's emulator (`cargo lambda watch --only-lambda-apis`), each invoked through
# its own Invoke API (POST /2015-03-31/functions/NAME/invocations) in one run: p50 at 1 caller
# and throughput at 8. AWS's own clients (awslambdaric, aws-lambda-ric) crash under the
# emulator (bench/README.md), so the curl runtime is what runs under both.
#   bench/runtime_api.sh            BENCH_SECONDS=5 per run
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
cd "$ROOT"

SECS=${BENCH_SECONDS:-5}
BIN=$ROOT/target/x86_64-unknown-linux-gnu/release/fnshim
WORK=$(mktemp -d /tmp/fnshim-bench-rapi.XXXXXX)
PY=$(python3 -c 'import sys; print(sys.executable)')
need curl
command -v cargo-lambda >/dev/null 2>&1 || python3 -m pip install --quiet cargo-lambda
log "cargo build --release"
cargo build --release
[[ -x $BIN ]] || die "release binary not found at $BIN"
FUNCTION=$WORK/function
mkdir -p "$FUNCTION" && cp "$ROOT/tests/fixtures/lambda/curl-bootstrap" "$FUNCTION/bootstrap"
chmod +x "$FUNCTION/bootstrap"

stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
field() { "$PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
listening() { # port pid what
  local t0=$SECONDS
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    alive "$2" || die "$3 exited"
    ((SECONDS - t0 < 30)) || die "$3 did not listen on $1"
    sleep 0.05
  done
}
# cpu_ticks PID -> utime + stime of that process alone (clock ticks)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# row LABEL PORT FUNCTION CALLERS SERVER_PID: the server's own CPU per invocation too
row() {
  "$PY" "$ROOT/bench/lambda/load.py" "$2" "$4" 1 "$3" >/dev/null # warm-up
  local r before after
  before=$(cpu_ticks "$5")
  r=$("$PY" "$ROOT/bench/lambda/load.py" "$2" "$4" "$SECS" "$3")
  after=$(cpu_ticks "$5")
  local per=$("$PY" -c 'import json, os, sys; r = json.loads(sys.argv[1]); n = r["per_s"] * float(sys.argv[2]); t = (int(sys.argv[4]) - int(sys.argv[3])) / os.sysconf("SC_CLK_TCK"); print(round(t / n * 1e6) if n else "—")' "$r" "$SECS" "$before" "$after")
  echo "| $1 | $4 | $(field "$r" per_s) | $(field "$r" p50_us) | $(field "$r" p99_us) | $per | $(field "$r" failed) |"
}

# cargo lambda watch, the curl runtime polling it (one process: the emulator serves one).
emulator_rows() {
  local dir port pid runtime
  dir=$(mktemp -d "$WORK/emu.XXXXXX")
  mkdir -p "$dir/src" && echo 'fn main() {}' >"$dir/src/main.rs"
  printf '[package]\nname = "emu"\nversion = "0.0.0"\nedition = "2021"\n' >"$dir/Cargo.toml"
  port=$(free_port)
  (cd "$dir" && exec cargo-lambda lambda watch --only-lambda-apis -A 127.0.0.1 -P "$port") \
    >"$dir/log" 2>&1 &
  pid=$!
  listening "$port" "$pid" "the emulator"
  (cd "$FUNCTION" && AWS_LAMBDA_RUNTIME_API="127.0.0.1:$port/.rt" AWS_LAMBDA_FUNCTION_NAME=_ \
    _HANDLER=bootstrap LAMBDA_TASK_ROOT="$FUNCTION" exec ./bootstrap) \
    >"$WORK/curl-emu.log" 2>&1 &
  runtime=$!
  row "cargo lambda watch, 1 curl runtime" "$port" _ 1 "$pid"
  row "cargo lambda watch, 1 curl runtime" "$port" _ 8 "$pid"
  stop "$runtime"
  stop "$pid"
}

# fnshim serving the same bootstrap with WORKERS processes.
fnshim_rows() {
  local workers=$1 port pid
  port=$(free_port)
  PORT=$port FUNCTION_PATH="$FUNCTION" FUNCTION_NAME=hello FUNCTION_WORKERS=$workers \
    CACHE_DIR="$WORK/cache" LOG_FORMAT=json "$BIN" 2>"$WORK/fnshim-$workers.log" &
  pid=$!
  wait_code "http://127.0.0.1:$port/_/ready" 200 "$pid" fnshim
  row "fnshim, $workers curl runtime process(es)" "$port" hello 1 "$pid"
  row "fnshim, $workers curl runtime process(es)" "$port" hello 8 "$pid"
  stop "$pid"
}

echo "| Runtime API server | callers | invocations/s | p50 µs | p99 µs | server CPU µs per invocation | failed |"
echo "|---|---:|---:|---:|---:|---:|---|"
emulator_rows
fnshim_rows 1
fnshim_rows "$(nproc)"
