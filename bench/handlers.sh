#!/usr/bin/env bash
# fnshim handler-mode benchmark (SPEC section 11). Run from the repository root:
#
#     bench/handlers.sh
#
# In ONE run it measures a hello-world function ({"message":"hello"}, 200 application/json):
#   - Node: fnshim handler mode (bench/functions/node) vs the Node.js Functions Framework
#     (@google-cloud/functions-framework, bench/functions/ff-node) vs a bare Node `http` server
#     (bench/functions/bare-node, the limit);
#   - Python: fnshim handler mode (bench/functions/python) vs the Python Functions Framework
#     (functions-framework from PyPI, bench/functions/ff-python);
# with wrk keep-alive at 1 connection (-t1 -c1) and 64 connections (-t2 -c64), 127.0.0.1 only;
# and start-up: exec of fnshim to the first 200 on `GET /` (node and python functions) against
# the run time of `node -e ''` and `python3 -c ''` (medians). The Markdown report is printed and
# written to bench/results/handlers-latest.md; raw outputs go to bench/results/raw-handlers/.
#
# Environment:
#   BENCH_SECONDS           duration of each measured wrk run (default 10)
#   BENCH_AB_REQUESTS       requests of each ab -k (HTTP/1.0 keep-alive) run (default 20000)
#   BENCH_WARMUP_SECONDS    unreported wrk warm-up per target before measuring (default 1; 0 = none)
#   BENCH_STARTUP_RUNS      start-up samples per series (default 10; the median is reported)
#   BENCH_STARTUP_POLL      how `GET /` is polled during start-up: `tcp` (default: bash's
#                           /dev/tcp, no process per poll) or `curl` (one curl per poll)
#   FNSHIM_BENCH_LOG_LEVEL  LOG_LEVEL given to fnshim (default info; logs go to a file)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-1}
BENCH_AB_REQUESTS=${BENCH_AB_REQUESTS:-20000}
BENCH_STARTUP_RUNS=${BENCH_STARTUP_RUNS:-10}
BENCH_STARTUP_POLL=${BENCH_STARTUP_POLL:-tcp}
SHIM_LOG_LEVEL=${FNSHIM_BENCH_LOG_LEVEL:-info}
for v in BENCH_SECONDS BENCH_WARMUP_SECONDS BENCH_STARTUP_RUNS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench: $v must be a whole number (got '${!v}')" >&2; exit 64; }
done
((BENCH_SECONDS > 0)) || { echo "bench: BENCH_SECONDS must be > 0" >&2; exit 64; }
((BENCH_STARTUP_RUNS > 0)) || { echo "bench: BENCH_STARTUP_RUNS must be > 0" >&2; exit 64; }
[[ $BENCH_STARTUP_POLL == tcp || $BENCH_STARTUP_POLL == curl ]] ||
  { echo "bench: BENCH_STARTUP_POLL must be tcp or curl (got '$BENCH_STARTUP_POLL')" >&2; exit 64; }

BENCH=$ROOT/bench
BIN=$ROOT/target/x86_64-unknown-linux-gnu/release/fnshim
RESULTS=$BENCH/results
RAW=$RESULTS/raw-handlers
REPORT=$RESULTS/handlers-latest.md
LUA=$BENCH/wrk-report.lua
FN=$BENCH/functions
EXPECTED_BODY='{"message":"hello"}'

# fnshim runs with its defaults: no configuration from the caller's environment leaks in.
unset FUNCTION_PATH FUNCTION_ENTRY FUNCTION_HANDLER FUNCTION_RUNTIME FUNCTION_WORKERS \
  FUNCTION_CONCURRENCY FUNCTION_TIMEOUT INIT_TIMEOUT TRIGGER_TYPE HTTP_EVENT_FORMAT \
  RUNTIME_CONFIG MAX_BODY_SIZE LOG_FORMAT
# Nor into the Functions Frameworks (FUNCTION_TARGET etc.; gunicorn's WORKERS and THREADS).
unset FUNCTION_TARGET FUNCTION_SOURCE FUNCTION_SIGNATURE_TYPE WORKERS THREADS

source "$ROOT/bench/lib.sh"
source "$ROOT/bench/peers.sh"

need wrk
need curl
need python3
need ab apache2-utils
command -v node >/dev/null 2>&1 || die "node (Node.js 18+) is required"
command -v npm >/dev/null 2>&1 || die "npm is required to install @google-cloud/functions-framework"
command -v cargo >/dev/null 2>&1 || die "cargo is required to build fnshim"

# The interpreter itself, not a wrapper such as a pyenv shim (a bash script that costs ~60 ms
# per start here): its folder goes first on PATH, so fnshim's python workers, the Functions
# Framework's venv and the `python3 -c ''` baseline all run this same binary directly.
PY=$(python3 -c 'import sys; print(sys.executable)') || die "python3 does not run"
[[ -x $PY ]] || die "python3 reports sys.executable '$PY', which is not executable"
PATH=$(dirname "$PY"):$PATH
export PATH
hash -r

stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

# Node.js Functions Framework, pinned in bench/package.json + package-lock.json.
NPM_STAMP=$(stamp_of "$BENCH/package.json" "$BENCH/package-lock.json")
if [[ $(cat "$BENCH/node_modules/.fnshim-bench-stamp" 2>/dev/null) != "$NPM_STAMP" ]]; then
  if [[ -f $BENCH/package-lock.json ]]; then
    log "npm ci (bench/node_modules)"
    (cd "$BENCH" && npm ci --no-audit --no-fund)
  else
    log "npm install (bench/node_modules)"
    (cd "$BENCH" && npm install --no-audit --no-fund)
    NPM_STAMP=$(stamp_of "$BENCH/package.json" "$BENCH/package-lock.json")
  fi
  echo "$NPM_STAMP" >"$BENCH/node_modules/.fnshim-bench-stamp"
fi
FF_NODE_BIN=$BENCH/node_modules/.bin/functions-framework # what `npx functions-framework` runs
[[ -x $FF_NODE_BIN ]] || die "$FF_NODE_BIN is missing after npm ci"

# Python Functions Framework, pinned in bench/requirements.txt, in a venv of $PY.
VENV=$BENCH/.venv
PIP_STAMP=$( (echo "$PY"; "$PY" --version; cat "$BENCH/requirements.txt") | sha256sum | cut -d' ' -f1)
if [[ $(cat "$VENV/.fnshim-bench-stamp" 2>/dev/null) != "$PIP_STAMP" ]]; then
  log "creating bench/.venv and installing bench/requirements.txt"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV" ||
    die "'$PY -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$BENCH/requirements.txt"
  echo "$PIP_STAMP" >"$VENV/.fnshim-bench-stamp"
fi
FF_PY_BIN=$VENV/bin/functions-framework
[[ -x $FF_PY_BIN ]] || die "$FF_PY_BIN is missing after pip install"

log "cargo build --release"
cargo build --release
[[ -x $BIN ]] || die "release binary not found at $BIN"

rm -rf "$RAW"
mkdir -p "$RAW"

# ---------------------------------------------------------------- helpers ---------------
now_us() { local t=$EPOCHREALTIME; REPLY=$((10#${t/[.,]/})); } # microseconds, no fork

# 2 ms pauses without a process per pause: read with a timeout on a pipe nobody writes to.
exec {PAUSE_FD}<> <(:)
pause_2ms() { read -r -t 0.002 -u "$PAUSE_FD" _ || true; }

# probe PORT -> 0 when `GET /` answers 200.
probe_tcp() { # bash's /dev/tcp: a refused connect costs ~0.1 ms, so the poll period is ~2 ms
  local fd line
  { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  if ! printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&"$fd" 2>/dev/null; then
    exec {fd}>&-
    return 1
  fi
  read -r -t 5 -u "$fd" line || line=
  exec {fd}>&-
  [[ $line == "HTTP/1.1 200"* ]]
}
probe_curl() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1/" 2>/dev/null) == 200 ]]; }

# parse_wrk FILE -> sets W_P50 W_P99 (µs) W_RPS (all responses) W_OK_RPS (2xx/3xx only)
# W_REQS W_NON2XX W_SOCK (connect + read + write + timeout errors); returns 1 if unparseable.
# Prefers the exact line printed by wrk-report.lua; falls back to wrk's text output.
# A server that answers 429 fast gets a high req/s from wrk, so the ratios use W_OK_RPS.
parse_wrk() {
  local f=$1 line k p50 p99 rps reqs secs n
  W_P50= W_P99= W_RPS= W_OK_RPS= W_REQS= W_NON2XX= W_SOCK=
  line=$(grep -m1 '^FNSHIM_BENCH ' "$f" || true)
  if [[ -n $line ]]; then
    local -A kv=()
    for k in ${line#FNSHIM_BENCH }; do kv[${k%%=*}]=${k#*=}; done
    W_P50=${kv[p50_us]} W_P99=${kv[p99_us]} W_REQS=${kv[requests]} W_NON2XX=${kv[status]}
    W_SOCK=$((kv[connect] + kv[read] + kv[write] + kv[timeout]))
    secs=$(awk -v d="${kv[duration_us]}" 'BEGIN { print d / 1e6 }')
  else
    p50=$(awk '$1 == "50%" {print $2; exit}' "$f")
    p99=$(awk '$1 == "99%" {print $2; exit}' "$f")
    rps=$(awk '$1 == "Requests/sec:" {print $2; exit}' "$f")
    reqs=$(awk '$2 == "requests" && $3 == "in" {print $1; exit}' "$f")
    [[ -n $p50 && -n $p99 && -n $rps && -n $reqs ]] || return 1
    W_P50=$(to_us "$p50") && W_P99=$(to_us "$p99") || return 1
    W_REQS=$reqs
    secs=$(awk -v r="$rps" -v n="$reqs" 'BEGIN { print (r > 0 ? n / r : 0) }')
    n=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$f" | head -n1)
    W_NON2XX=${n:-0}
    n=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1+\2+\3+\4/p' "$f" | head -n1)
    W_SOCK=$((${n:-0}))
  fi
  W_RPS=$(awk -v n="$W_REQS" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  W_OK_RPS=$(awk -v n="$W_REQS" -v e="$W_NON2XX" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? (n - e) / s : 0) }')
  [[ $W_P50 =~ ^[0-9]+$ && $W_P99 =~ ^[0-9]+$ && $W_RPS =~ ^[0-9]+$ && $W_OK_RPS =~ ^[0-9]+$ ]] || return 1
}

# median of the arguments (integers), printed as an integer
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) print a[(NR + 1) / 2]; else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ms() { [[ -n ${1:-} ]] && awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }' || printf 'n/a'; } # µs -> "12.3"
fmt_int() { [[ -n ${1:-} ]] && printf "%'d" "$1" 2>/dev/null || printf 'n/a'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 <= 0) print "n/a"; else printf "%.2f", a / b }'; }

FAILED=0

# ---------------------------------------------------------------- start-up --------------
# Measured first, with nothing else of ours running. fnshim: from just before the fork/exec of
# `FUNCTION_PATH=… PORT=… fnshim` to the first 200 on `GET /` (polled every ~2 ms), then SIGTERM.
# Runtime alone: the run time (exec to exit) of `node -e ''` / `python3 -c ''`, timed the same way.
# fnshim's log timestamps (same wall clock) split its time into: listening, first worker
# spawned, first worker ready.
declare -A SU=() # SU[series] = space-separated samples in µs; SU[series,listen|spawn|ready] likewise
startup_shim() { # SERIES FUNCTION_DIR RUN -> appends to SU
  local series=$1 dir=$2 run=$3 port logf pid t0 t1 polls=0 deadline
  port=$(free_port)
  logf=$RAW/startup-$series-$run.log
  now_us; t0=$REPLY
  LOG_LEVEL=$SHIM_LOG_LEVEL FUNCTION_PATH=$dir PORT=$port "$BIN" >"$RAW/startup-$series-$run.stdout" 2>"$logf" &
  pid=$!
  deadline=$((t0 + 30000000))
  until "probe_$BENCH_STARTUP_POLL" "$port"; do
    polls=$((polls + 1))
    if ((polls % 16 == 0)); then
      alive "$pid" || die "fnshim ($series) exited during start-up [log: $logf]"
      now_us
      ((REPLY < deadline)) || die "fnshim ($series) did not answer 200 on GET / within 30 s [log: $logf]"
    fi
    pause_2ms
  done
  now_us; t1=$REPLY
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  ((run > 0)) || return 0 # warm-up run: not recorded
  SU[$series]+=" $((t1 - t0))"
  # split from the log: "listening", first "worker started", "first worker ready" (µs after t0)
  local split
  split=$(awk -v t0="$t0" '
    function us(line,   ts, h, m, s) {
      if (!match(line, /"timestamp":"[0-9-]+T[0-9:.]+Z"/)) return -1
      ts = substr(line, RSTART + 24, RLENGTH - 26)       # HH:MM:SS.ffffff
      h = substr(ts, 1, 2); m = substr(ts, 4, 2); s = substr(ts, 7)
      d = (h * 3600 + m * 60 + s) * 1e6 - (t0 % 86400000000)
      if (d < -43200e6) d += 86400e6
      return d
    }
    /"message":"listening"/ && listen == "" { listen = us($0) }
    /"message":"worker started"/ && spawn == "" { spawn = us($0) }
    /"message":"first worker ready"/ && ready == "" { ready = us($0) }
    END { printf "%.0f %.0f %.0f\n", listen == "" ? -1 : listen, spawn == "" ? -1 : spawn, ready == "" ? -1 : ready }' "$logf")
  read -r l s r <<<"$split"
  ((l >= 0)) && SU[$series,listen]+=" $l"
  ((s >= 0)) && SU[$series,spawn]+=" $s"
  ((r >= 0)) && SU[$series,ready]+=" $r"
  WORKERS_AT_START[$series]=$(sed -n 's/.*"message":"first worker ready".*"workers":\([0-9]*\).*/\1/p' "$logf" | head -n1)
  return 0
}
startup_runtime() { # SERIES RUN CMD... -> appends to SU
  local series=$1 run=$2 t0 t1
  shift 2
  now_us; t0=$REPLY
  "$@" </dev/null >/dev/null 2>&1 || die "'$*' failed"
  now_us; t1=$REPLY
  ((run > 0)) || return 0
  SU[$series]+=" $((t1 - t0))"
}
declare -A WORKERS_AT_START=()
log "start-up: $BENCH_STARTUP_RUNS runs of each series (+1 unrecorded warm-up), polling with $BENCH_STARTUP_POLL"
for ((run = 0; run <= BENCH_STARTUP_RUNS; run++)); do
  startup_runtime node-runtime "$run" node -e ''
  startup_shim node-fnshim "$FN/node" "$run"
  startup_runtime python-runtime "$run" "$PY" -c ''
  startup_shim python-fnshim "$FN/python" "$run"
done
declare -A SU_MED=()
for series in node-runtime node-fnshim python-runtime python-fnshim; do
  read -r -a samples <<<"${SU[$series]}"
  SU_MED[$series]=$(median "${samples[@]}")
  printf '%s\n' "${samples[@]}" >"$RAW/startup-$series.samples-us"
  log "  $series: median $(ms "${SU_MED[$series]}") ms (samples µs: ${SU[$series]# })"
  for part in listen spawn ready; do
    if [[ -n ${SU[$series,$part]:-} ]]; then
      read -r -a samples <<<"${SU[$series,$part]}"
      SU_MED[$series,$part]=$(median "${samples[@]}")
    fi
  done
done
# the poll period actually achieved (a refused connect + the pause), for the report
probe_port=$(free_port)
now_us; t0=$REPLY
for ((i = 0; i < 200; i++)); do "probe_$BENCH_STARTUP_POLL" "$probe_port" || true; pause_2ms; done
now_us; POLL_PERIOD_US=$(((REPLY - t0) / 200))

# ---------------------------------------------------------------- servers ---------------
declare -A PORT_OF=() PID_OF=() DESC=()
start_target() { # NAME READY_PATH CMD... (environment given with `env` in CMD)
  local name=$1 ready=$2
  shift 2
  PORT_OF[$name]=$(free_port)
  PORT=${PORT_OF[$name]} "$@" >"$RAW/$name.stdout" 2>"$RAW/$name.log" &
  PID_OF[$name]=$!
  wait_code "http://127.0.0.1:${PORT_OF[$name]}$ready" 200 "${PID_OF[$name]}" "$name [log: $RAW/$name.log]"
  # GET / answers 200, application/json, {"message":"hello"} (whitespace aside)
  local code ctype body
  curl -sS --max-time 5 -D "$RAW/$name.headers" -o "$RAW/$name.body" "http://127.0.0.1:${PORT_OF[$name]}/" ||
    die "GET / on $name failed"
  code=$(head -n1 "$RAW/$name.headers" | awk '{print $2}')
  ctype=$(awk -F': *' 'tolower($1) == "content-type" {print $2}' "$RAW/$name.headers" | tr -d '\r')
  body=$(tr -d ' \r\n\t' <"$RAW/$name.body")
  [[ $code == 200 && $ctype == application/json* && $body == "$EXPECTED_BODY" ]] ||
    die "$name answered $code '$ctype' '$(<"$RAW/$name.body")' instead of 200 application/json $EXPECTED_BODY"
  log "$name: :${PORT_OF[$name]} (pid ${PID_OF[$name]})"
}
log "starting the servers"
start_target node-fnshim /_/ready env LOG_LEVEL="$SHIM_LOG_LEVEL" FUNCTION_PATH="$FN/node" "$BIN"
start_target node-ff / "$FF_NODE_BIN" --target=hello --source="$FN/ff-node"
start_target node-bare / node "$FN/bare-node/server.js"
start_target python-fnshim /_/ready env LOG_LEVEL="$SHIM_LOG_LEVEL" FUNCTION_PATH="$FN/python" "$BIN"
start_target python-ff / "$FF_PY_BIN" --target=hello --source="$FN/ff-python/main.py" --host=127.0.0.1

# worker counts actually used
workers_of() { sed -n 's/.*"message":"first worker ready".*"workers":\([0-9]*\).*/\1/p' "$RAW/$1.log" | head -n1; }
NODE_WORKERS=$(workers_of node-fnshim)
PY_WORKERS=$(workers_of python-fnshim)
GUNICORN_THREADS=$(($(nproc) * 4)) # functions-framework's default THREADS (unset above)
GUNICORN_WORKERS=$(ps --ppid "${PID_OF[python-ff]}" -o pid= | wc -l) # the arbiter's children

# ---------------------------------------------------------------- measure ---------------
declare -A M=() # M[target,conns,field]
measure() { # TARGET CONNS
  local name=$1 conns=$2 threads out url
  threads=$((conns == 1 ? 1 : 2))
  url=http://127.0.0.1:${PORT_OF[$name]}/
  out=$RAW/$name-c$conns.wrk.txt
  log "wrk $name: -t$threads -c$conns -d${BENCH_SECONDS}s $url"
  local own0 kids0
  own0=$(cpu_ticks "${PID_OF[$name]}") kids0=$(children_ticks "${PID_OF[$name]}")
  if run_wrk "$out" "$threads" "$conns" "$BENCH_SECONDS" "$url" && parse_wrk "$out"; then
    M[$name,$conns,cpu]=$(cpu_us_per_request "$own0" "$(cpu_ticks "${PID_OF[$name]}")" "$W_REQS")
    M[$name,$conns,kcpu]=$(cpu_us_per_request "$kids0" "$(children_ticks "${PID_OF[$name]}")" "$W_REQS")
    M[$name,$conns,p50]=$W_P50 M[$name,$conns,p99]=$W_P99 M[$name,$conns,rps]=$W_RPS
    M[$name,$conns,reqs]=$W_REQS M[$name,$conns,ok]=$W_OK_RPS
    M[$name,$conns,non2xx]=$W_NON2XX M[$name,$conns,sock]=$W_SOCK
    log "  p50 ${W_P50} µs, p99 ${W_P99} µs, ${W_RPS} req/s (${W_OK_RPS} 2xx/s), non-2xx ${W_NON2XX}, socket errors ${W_SOCK}"
  else
    log "  wrk failed or its output could not be parsed, see $out"
    FAILED=1
  fi
}
# children_ticks PID -> the CPU ticks of every descendant (fnshim's workers, gunicorn's)
children_ticks() {
  local sum=0 p
  for p in $(ps -e -o pid=,ppid= | awk -v root="$1" '{ parent[$1] = $2 } END {
      n = 1; list[1] = root
      for (i = 1; i <= n; i++) for (p in parent) if (parent[p] == list[i]) list[++n] = p
      for (i = 2; i <= n; i++) print list[i] }'); do
    sum=$((sum + $(cpu_ticks "$p")))
  done
  echo "$sum"
}
measure_ab() { # TARGET: HTTP/1.0 keep-alive (ab -k), 64 connections, BENCH_AB_REQUESTS requests
  local name=$1 out=$RAW/$1-ab.txt own0 kids0
  own0=$(cpu_ticks "${PID_OF[$name]}") kids0=$(children_ticks "${PID_OF[$name]}")
  log "ab -k $name: -n $BENCH_AB_REQUESTS -c 64"
  if run_ab "$out" "$BENCH_AB_REQUESTS" 64 "http://127.0.0.1:${PORT_OF[$name]}/"; then
    M[$name,ab,rps]=$A_RPS M[$name,ab,errs]=$A_ERRS
    M[$name,ab,cpu]=$(cpu_us_per_request "$own0" "$(cpu_ticks "${PID_OF[$name]}")" "$BENCH_AB_REQUESTS")
    M[$name,ab,kcpu]=$(cpu_us_per_request "$kids0" "$(children_ticks "${PID_OF[$name]}")" "$BENCH_AB_REQUESTS")
    log "  ${A_RPS} req/s, errors ${A_ERRS}"
  else
    log "  ab failed, see $out"
    FAILED=1
  fi
}
warmup() { # TARGET
  ((BENCH_WARMUP_SECONDS > 0)) || return 0
  local out=$RAW/$1-warmup.wrk.txt
  run_wrk "$out" 2 64 "$BENCH_WARMUP_SECONDS" "http://127.0.0.1:${PORT_OF[$1]}/" || log "warm-up of $1 failed, see $out"
}
NODE_TARGETS=(node-fnshim node-ff node-bare)
PY_TARGETS=(python-fnshim python-ff)
# Targets of one language alternate within each setting, so that drift hits them alike.
for group in NODE_TARGETS PY_TARGETS; do
  declare -n targets=$group
  for t in "${targets[@]}"; do warmup "$t"; done
  for conns in 1 64; do
    for t in "${targets[@]}"; do measure "$t" "$conns"; done
  done
  for t in "${targets[@]}"; do measure_ab "$t"; done
  unset -n targets
done
for t in "${NODE_TARGETS[@]}" "${PY_TARGETS[@]}"; do
  alive "${PID_OF[$t]}" || { log "$t is no longer running (log: $RAW/$t.log)"; FAILED=1; }
done

# ---------------------------------------------------------------- report ----------------
ALL_CHECKS=()
check() { # DESCRIPTION VALUE TARGET PASS(0/1)
  local v=PASS
  (($4)) || v=FAIL
  ALL_CHECKS+=("| $1 | $2 | $3 | $v |")
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && a + 0 >= b + 0) }' && echo 1 || echo 0; }

declare -A LABEL=(
  [node-fnshim]="fnshim handler (bench/functions/node)"
  [node-ff]="Functions Framework (@google-cloud/functions-framework)"
  [node-bare]="bare Node \`http\` server (the limit)"
  [python-fnshim]="fnshim handler (bench/functions/python)"
  [python-ff]="Functions Framework (functions-framework, gunicorn)"
)
FF_NODE_VERSION=$(node -p "require('$BENCH/node_modules/@google-cloud/functions-framework/package.json').version" 2>/dev/null || echo '?')
FF_PY_VERSION=$("$VENV/bin/python" -c 'from importlib.metadata import version as v; print(v("functions-framework"), "(gunicorn", v("gunicorn") + ", Flask", v("flask") + ")")' 2>/dev/null || echo '?')
BIN_VERSION=$(timeout -k 1 5 "$BIN" --version 2>&1 | head -n1 || true)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
DIRTY=$(git -C "$ROOT" status --porcelain -- src languages Cargo.toml Cargo.lock 2>/dev/null | head -c1)

# ratios of successful (2xx/3xx) responses per second
R_NODE_FF=$(ratio "${M[node-fnshim,64,ok]:-}" "${M[node-ff,64,ok]:-}")
R_NODE_BARE=$(ratio "${M[node-fnshim,64,ok]:-}" "${M[node-bare,64,ok]:-}")
R_PY_FF=$(ratio "${M[python-fnshim,64,ok]:-}" "${M[python-ff,64,ok]:-}")
diff_us() { [[ -n ${SU_MED[$1]:-} && -n ${SU_MED[$2]:-} ]] && echo $((SU_MED[$1] - SU_MED[$2])) || echo; }
D_NODE=$(diff_us node-fnshim node-runtime)
D_PY=$(diff_us python-fnshim python-runtime)

{
  echo "# fnshim handler-mode benchmark"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); host: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), Linux $(uname -r); load average before the report: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- fnshim: ${BIN_VERSION:-?} at commit $COMMIT${DIRTY:+ (with uncommitted changes)}; LOG_LEVEL=$SHIM_LOG_LEVEL, JSON logs on stderr to a file, otherwise defaults"
  echo "- workers used: fnshim node FUNCTION_WORKERS=${NODE_WORKERS:-?} (default 1; FUNCTION_CONCURRENCY default 64); fnshim python FUNCTION_WORKERS=${PY_WORKERS:-?} (default: one per CPU, $(nproc) here; FUNCTION_CONCURRENCY 1 each); Node Functions Framework: one process; Python Functions Framework: gunicorn, ${GUNICORN_WORKERS:-?} worker × $GUNICORN_THREADS threads (its defaults: WORKERS=1, THREADS=4 × CPUs)"
  echo "- tools: $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}'), node $(node --version), Python $("$PY" -c 'import platform; print(platform.python_version())') ($PY), @google-cloud/functions-framework $FF_NODE_VERSION, functions-framework $FF_PY_VERSION"
  echo "- wrk keep-alive to 127.0.0.1: \`-t1 -c1\` and \`-t2 -c64\`, ${BENCH_SECONDS}s each (after a ${BENCH_WARMUP_SECONDS}s warm-up per target), the targets of one language alternating; every target answers \`GET /\` with 200 application/json \`$EXPECTED_BODY\`"
  echo
  echo "## Throughput and latency"
  echo
  echo "| language | server | conns | p50 µs | p99 µs | responses/s | 2xx responses/s | non-2xx | socket errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  for t in "${NODE_TARGETS[@]}" "${PY_TARGETS[@]}"; do
    for conns in 1 64; do
      echo "| ${t%%-*} | ${LABEL[$t]} | $conns | $(fmt_int "${M[$t,$conns,p50]:-}") | $(fmt_int "${M[$t,$conns,p99]:-}") | $(fmt_int "${M[$t,$conns,rps]:-}") | $(fmt_int "${M[$t,$conns,ok]:-}") | $(fmt_int "${M[$t,$conns,non2xx]:-}") | $(fmt_int "${M[$t,$conns,sock]:-}") |"
    done
  done
  echo
  echo "Percentiles are wrk's, over every response (a fast non-2xx counts like a 200)."
  echo
  echo "| language | server | clients | req/s | CPU µs per request: the server process | its children (workers) | errors |"
  echo "|---|---|---|---:|---:|---:|---:|"
  for t in "${NODE_TARGETS[@]}" "${PY_TARGETS[@]}"; do
    echo "| ${t%%-*} | ${LABEL[$t]} | wrk -c64 | $(fmt_int "${M[$t,64,rps]:-}") | ${M[$t,64,cpu]:-n/a} | ${M[$t,64,kcpu]:-n/a} | $(fmt_int "${M[$t,64,non2xx]:-}") |"
    echo "| ${t%%-*} | ${LABEL[$t]} | ab -k -c64 (HTTP/1.0) | $(fmt_int "${M[$t,ab,rps]:-}") | ${M[$t,ab,cpu]:-n/a} | ${M[$t,ab,kcpu]:-n/a} | ${M[$t,ab,errs]:-n/a} |"
  done
  echo
  echo "| ratio (2xx responses/s) | 1 connection | 64 connections |"
  echo "|---|---:|---:|"
  echo "| Node: fnshim / Functions Framework | $(ratio "${M[node-fnshim,1,ok]:-}" "${M[node-ff,1,ok]:-}")× | ${R_NODE_FF}× |"
  echo "| Node: fnshim / bare \`http\` | $(ratio "${M[node-fnshim,1,ok]:-}" "${M[node-bare,1,ok]:-}")× | ${R_NODE_BARE}× |"
  echo "| Python: fnshim / Functions Framework | $(ratio "${M[python-fnshim,1,ok]:-}" "${M[python-ff,1,ok]:-}")× | ${R_PY_FF}× |"
  echo
  echo "## Start-up"
  echo
  echo "Median of $BENCH_STARTUP_RUNS runs (after one unrecorded warm-up each, series interleaved). fnshim: from just before"
  echo "the exec of \`FUNCTION_PATH=bench/functions/<lang> PORT=… fnshim\` to the first 200 on \`GET /\`, polled with"
  echo "$( [[ $BENCH_STARTUP_POLL == tcp ]] && echo "bash's \`/dev/tcp\` (no process per poll)" || echo "one \`curl\` per poll") every ${POLL_PERIOD_US} µs on average; runtime alone: exec to exit of \`node -e ''\` / \`python3 -c ''\`,"
  echo "timed the same way. The split columns come from fnshim's own log timestamps (ms after the exec)."
  echo
  echo "| function | runtime alone ms | fnshim first 200 ms | fnshim ready after the runtime's own start ms | split: listening / first worker spawned / first worker ready ms |"
  echo "|---|---:|---:|---:|---|"
  for lang in node python; do
    d=$([[ $lang == node ]] && echo "$D_NODE" || echo "$D_PY")
    echo "| $lang | $(ms "${SU_MED[$lang-runtime]:-}") | $(ms "${SU_MED[$lang-fnshim]:-}") | $(ms "$d") | $(ms "${SU_MED[$lang-fnshim,listen]:-}") / $(ms "${SU_MED[$lang-fnshim,spawn]:-}") / $(ms "${SU_MED[$lang-fnshim,ready]:-}") (workers: ${WORKERS_AT_START[$lang-fnshim]:-?}) |"
  done
  echo

  check "Node, 64 connections: fnshim / Functions Framework" "${R_NODE_FF}× ($(fmt_int "${M[node-fnshim,64,ok]:-}") / $(fmt_int "${M[node-ff,64,ok]:-}") 2xx/s)" "≥ 4×" "$(ge "$R_NODE_FF" 4)"
  check "Node, 64 connections: fnshim / bare \`http\`" "${R_NODE_BARE}× ($(fmt_int "${M[node-fnshim,64,ok]:-}") / $(fmt_int "${M[node-bare,64,ok]:-}") 2xx/s)" "≥ 0.8×" "$(ge "$R_NODE_BARE" 0.8)"
  check "Python, 64 connections: fnshim / Functions Framework" "${R_PY_FF}× ($(fmt_int "${M[python-fnshim,64,ok]:-}") / $(fmt_int "${M[python-ff,64,ok]:-}") 2xx/s)" "≥ 8×" "$(ge "$R_PY_FF" 8)"
  for t in node-fnshim python-fnshim; do
    c=${M[$t,64,cpu]:-}
    check "${t%%-*}, 64 connections: the shim's own CPU per request" "${c:-n/a} µs (its workers ${M[$t,64,kcpu]:-n/a} µs)" "≤ 20 µs" "$([[ -n $c ]] && awk -v c="$c" 'BEGIN { print (c <= 20) ? 1 : 0 }' || echo 0)"
  done
  for lang in node python; do
    d=$([[ $lang == node ]] && echo "$D_NODE" || echo "$D_PY")
    if [[ -n $d ]]; then
      check "start-up, $lang: fnshim ready after the runtime's own start" "$(ms "$d") ms ($(ms "${SU_MED[$lang-fnshim]}") − $(ms "${SU_MED[$lang-runtime]}"))" "≤ 10 ms" $((d <= 10000))
    else check "start-up, $lang" n/a "≤ 10 ms" 0; fi
  done
  for t in node-fnshim python-fnshim; do
    n=0 e=0
    for conns in 1 64; do n=$((n + ${M[$t,$conns,non2xx]:-0})) e=$((e + ${M[$t,$conns,sock]:-0})); done
    codes=$(grep -o '"status":[0-9]*' "$RAW/$t.log" | { grep -v ':200$' || true; } | sort | uniq -c | awk '{ sub(/"status":/, "", $2); printf "%s%s× %s", (NR > 1 ? ", " : ""), $1, $2 }' || true)
    check "non-2xx and socket errors through fnshim, ${t%%-*}" "$(fmt_int "$n") non-2xx${codes:+ (fnshim log, all runs: $codes)}, $e socket" "0" $((n + e == 0))
  done

  echo "## Targets (SPEC section 11)"
  echo
  echo "| check | measured | target | |"
  echo "|---|---|---|---|"
  printf '%s\n' "${ALL_CHECKS[@]}"
  echo
  echo "p50 at 1 connection: Node fnshim $(fmt_int "${M[node-fnshim,1,p50]:-}") µs, Functions Framework $(fmt_int "${M[node-ff,1,p50]:-}") µs, bare $(fmt_int "${M[node-bare,1,p50]:-}") µs; Python fnshim $(fmt_int "${M[python-fnshim,1,p50]:-}") µs, Functions Framework $(fmt_int "${M[python-ff,1,p50]:-}") µs."
  echo
  echo "Raw wrk outputs, server logs and start-up samples: bench/results/raw-handlers/"
} >"$REPORT"

echo
cat "$REPORT"
((FAILED == 0)) || die "some measurements failed (see above); the report is incomplete"
