#!/usr/bin/env bash
# fnshim benchmark (SPEC section 11, proxy mode). Run from the repository root:
#
#     bench/run.sh
#
# In ONE run it measures two tiny HTTP upstreams, each called directly and through
# `PORT=<port> fnshim -- <upstream>`, with wrk keep-alive at 1 connection and at 64 connections
# (127.0.0.1 only), and reports p50/p99 latency, req/s and the fnshim/direct ratios; plus
# fnshim's RSS (idle after ready, and after the load), the release binary's size and `file`.
# The Markdown report is printed and written to bench/results/latest.md; raw wrk outputs and
# the shim logs go to bench/results/raw/.
#
# Environment:
#   BENCH_SECONDS           duration of each measured wrk run (default 10)
#   BENCH_WARMUP_SECONDS    unreported wrk warm-up per target before measuring (default 1; 0 = none)
#   BENCH_AB_REQUESTS       requests of each ab -k (HTTP/1.0 keep-alive) run (default 20000)
#   BENCH_CALLGRIND_REQUESTS  requests of each callgrind load run (default 5000)
#   BENCH_CALLGRIND_ONLY    1: only the callgrind runs (to measure one change quickly)
#   FNSHIM_BENCH_BIN        a fnshim binary to measure instead of building the release one
#   FNSHIM_BENCH_LOG_LEVEL  LOG_LEVEL given to fnshim (default info: the per-invocation log line
#                           is part of the measured cost; logs go to a file)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-1}
SHIM_LOG_LEVEL=${FNSHIM_BENCH_LOG_LEVEL:-info}
BENCH_AB_REQUESTS=${BENCH_AB_REQUESTS:-20000}
BENCH_CALLGRIND_REQUESTS=${BENCH_CALLGRIND_REQUESTS:-5000}
for v in BENCH_SECONDS BENCH_WARMUP_SECONDS BENCH_AB_REQUESTS BENCH_CALLGRIND_REQUESTS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench: $v must be a whole number of seconds (got '${!v}')" >&2; exit 64; }
done
((BENCH_SECONDS > 0)) || { echo "bench: BENCH_SECONDS must be > 0" >&2; exit 64; }

BIN=${FNSHIM_BENCH_BIN:-$ROOT/target/x86_64-unknown-linux-gnu/release/fnshim}
RESULTS=$ROOT/bench/results
RAW=$RESULTS/raw
LUA=$ROOT/bench/wrk-report.lua
NODE_UPSTREAM=$ROOT/bench/upstreams/node-hello.js
NAIVE_UPSTREAM=$ROOT/bench/upstreams/naive-two-writes.py

source "$ROOT/bench/lib.sh"
source "$ROOT/bench/peers.sh"

need wrk
need curl
need file
need python3
need nginx nginx-light
need haproxy
need ab apache2-utils
need valgrind
need callgrind_annotate valgrind
command -v node >/dev/null 2>&1 || die "node (Node.js 18+) is required for the baseline upstream"
command -v cargo >/dev/null 2>&1 || die "cargo is required to build fnshim"

if [[ -z ${FNSHIM_BENCH_BIN:-} ]]; then
  log "cargo build --release"
  cargo build --release
fi
[[ -x $BIN ]] || die "release binary not found at $BIN"

rm -rf "$RAW"
mkdir -p "$RAW"

# ---------------------------------------------------------------- helpers ---------------
rss_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || true; }

# start_direct LABEL CMD... -> sets STARTED_PID, STARTED_PORT
start_direct() {
  local label=$1
  shift
  STARTED_PORT=$(free_port)
  PORT=$STARTED_PORT "$@" >"$RAW/$label-direct.out" 2>&1 &
  STARTED_PID=$!
  wait_code "http://127.0.0.1:$STARTED_PORT/" 200 "$STARTED_PID" "direct $label upstream"
}

# start_shim LABEL CMD... -> sets STARTED_PID, STARTED_PORT; returns once GET /_/ready = 200.
# The public port is chosen here rather than PORT=0, because fnshim's "listening" line (which
# names the bound port) is an INFO line and FNSHIM_BENCH_LOG_LEVEL may hide it.
start_shim() {
  local label=$1 logf
  shift
  logf=$RAW/$label-fnshim.log
  STARTED_PORT=$(free_port)
  env -u FUNCTION_PATH LOG_LEVEL="$SHIM_LOG_LEVEL" LOG_FORMAT=json PORT="$STARTED_PORT" \
    "$BIN" -- "$@" >"$RAW/$label-fnshim.stdout" 2>"$logf" &
  STARTED_PID=$!
  wait_code "http://127.0.0.1:$STARTED_PORT/_/ready" 200 "$STARTED_PID" "fnshim ($label) [log: $logf]"
}

# same_body LABEL DIRECT_PORT SHIM_PORT: a proxied GET / answers 200 with the direct body.
same_body() {
  local d s
  d=$(curl -sS --max-time 5 "http://127.0.0.1:$2/") || die "GET / on the direct $1 upstream failed"
  curl -sS --max-time 5 -D "$RAW/$1-fnshim.headers" -o "$RAW/$1-fnshim.body" "http://127.0.0.1:$3/bench?x=1" ||
    die "GET / through fnshim ($1) failed"
  s=$(<"$RAW/$1-fnshim.body")
  [[ $d == "$s" ]] || die "fnshim ($1) answered '$s' instead of '$d' (headers: $RAW/$1-fnshim.headers)"
  grep -qi '^HTTP/1.1 200' "$RAW/$1-fnshim.headers" || die "fnshim ($1) did not answer 200: $(head -n1 "$RAW/$1-fnshim.headers")"
}

# parse_wrk FILE -> sets W_P50 W_P99 (µs) W_RPS W_REQS W_ERRS; returns 1 if unparseable.
# Prefers the exact line printed by wrk-report.lua; falls back to wrk's text output.
parse_wrk() {
  local f=$1 line k v p50 p99 rps reqs errs=0 n
  W_P50= W_P99= W_RPS= W_REQS= W_ERRS=
  line=$(grep -m1 '^FNSHIM_BENCH ' "$f" || true)
  if [[ -n $line ]]; then
    local -A kv=()
    for k in ${line#FNSHIM_BENCH }; do kv[${k%%=*}]=${k#*=}; done
    W_P50=${kv[p50_us]} W_P99=${kv[p99_us]} W_REQS=${kv[requests]}
    W_RPS=$(awk -v r="${kv[requests]}" -v d="${kv[duration_us]}" 'BEGIN { printf "%.0f", (d > 0 ? r / (d / 1e6) : 0) }')
    W_ERRS=$((kv[status] + kv[connect] + kv[read] + kv[write] + kv[timeout]))
  else
    p50=$(awk '$1 == "50%" {print $2; exit}' "$f")
    p99=$(awk '$1 == "99%" {print $2; exit}' "$f")
    rps=$(awk '$1 == "Requests/sec:" {print $2; exit}' "$f")
    reqs=$(awk '$2 == "requests" && $3 == "in" {print $1; exit}' "$f")
    [[ -n $p50 && -n $p99 && -n $rps ]] || return 1
    W_P50=$(to_us "$p50") && W_P99=$(to_us "$p99") || return 1
    W_RPS=$(awk -v r="$rps" 'BEGIN { printf "%.0f", r }')
    W_REQS=${reqs:-0}
    n=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$f" | head -n1)
    errs=$((errs + ${n:-0}))
    n=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1+\2+\3+\4/p' "$f" | head -n1)
    W_ERRS=$((errs + ${n:-0}))
  fi
  [[ $W_P50 =~ ^[0-9]+$ && $W_P99 =~ ^[0-9]+$ && $W_RPS =~ ^[0-9]+$ ]] || return 1
}

FAILED=0
declare -A M=() # M[label,conns,target,field]
declare -A PID_OF=() # PID_OF[label,target]: the process whose CPU time is measured
measure() { # LABEL CONNS THREADS TARGET URL
  local label=$1 conns=$2 threads=$3 target=$4 url=$5 out pid=${PID_OF[$1,$4]:-} t0=0
  out=$RAW/$label-c$conns-$target.wrk.txt
  log "wrk $label c=$conns $target: -t$threads -c$conns -d${BENCH_SECONDS}s $url"
  [[ -z $pid ]] || t0=$(cpu_ticks "$pid")
  if run_wrk "$out" "$threads" "$conns" "$BENCH_SECONDS" "$url" && parse_wrk "$out"; then
    M[$label,$conns,$target,p50]=$W_P50
    M[$label,$conns,$target,p99]=$W_P99
    M[$label,$conns,$target,rps]=$W_RPS
    M[$label,$conns,$target,reqs]=$W_REQS
    M[$label,$conns,$target,errs]=$W_ERRS
    [[ -z $pid ]] || M[$label,$conns,$target,cpu]=$(cpu_us_per_request "$t0" "$(cpu_ticks "$pid")" "$W_REQS")
    log "  p50 ${W_P50} µs, p99 ${W_P99} µs, ${W_RPS} req/s, errors ${W_ERRS}, CPU ${M[$label,$conns,$target,cpu]:-n/a} µs/request"
  else
    log "  wrk failed or its output could not be parsed, see $out"
    FAILED=1
  fi
}
measure_ab() { # TARGET URL: HTTP/1.0 keep-alive clients, 64 connections, a fixed count
  local target=$1 url=$2 out=$RAW/node-ab-$1.txt pid=${PID_OF[node,$1]:-} t0=0
  log "ab -k $target: -n $BENCH_AB_REQUESTS -c 64 $url"
  [[ -z $pid ]] || t0=$(cpu_ticks "$pid")
  if run_ab "$out" "$BENCH_AB_REQUESTS" 64 "$url"; then
    M[node,ab,$target,rps]=$A_RPS
    M[node,ab,$target,errs]=$A_ERRS
    [[ -z $pid ]] || M[node,ab,$target,cpu]=$(cpu_us_per_request "$t0" "$(cpu_ticks "$pid")" "$BENCH_AB_REQUESTS")
    log "  ${A_RPS} req/s, errors ${A_ERRS}, CPU ${M[node,ab,$target,cpu]:-n/a} µs/request"
  else
    log "  ab failed, see $out"
    FAILED=1
  fi
}
declare -A WARM_REQS=()
warmup() { # LABEL TARGET URL (not reported; its requests are counted for the log-line check)
  local out=$RAW/$1-warmup-$2.wrk.txt
  WARM_REQS[$1,$2]=0
  ((BENCH_WARMUP_SECONDS > 0)) || return 0
  if run_wrk "$out" 2 64 "$BENCH_WARMUP_SECONDS" "$3" && parse_wrk "$out"; then
    WARM_REQS[$1,$2]=$W_REQS
  else
    log "warm-up of $1 $2 failed, see $out"
  fi
}

# ---------------------------------------------------------------- start everything ------
BIN_SIZE=$(stat -c %s "$BIN")
BIN_FILE=$(file -b "$BIN")
BIN_VERSION=$(timeout -k 1 5 "$BIN" --version 2>&1 | head -n1 || true)

log "starting upstreams and fnshim"
declare -A DIRECT_PORT=() SHIM_PORT=() SHIM_PID=() IDLE_RSS=()
start_upstream() { # LABEL CMD...
  local label=$1
  start_direct "$@"
  DIRECT_PORT[$label]=$STARTED_PORT
  start_shim "$@"
  SHIM_PORT[$label]=$STARTED_PORT
  SHIM_PID[$label]=$STARTED_PID
  sleep 1 # ready, then idle ~1 s, before any proxied request
  IDLE_RSS[$label]=$(rss_kb "$STARTED_PID" VmRSS)
  same_body "$label" "${DIRECT_PORT[$label]}" "${SHIM_PORT[$label]}"
  log "$label: direct :${DIRECT_PORT[$label]}, fnshim :${SHIM_PORT[$label]} (pid $STARTED_PID, idle VmRSS ${IDLE_RSS[$label]} kB)"
}
start_upstream node node "$NODE_UPSTREAM"
start_upstream naive python3 "$NAIVE_UPSTREAM"
PID_OF[node,fnshim]=${SHIM_PID[node]}
PID_OF[naive,fnshim]=${SHIM_PID[naive]}
start_nginx nginx "${DIRECT_PORT[node]}"
NGINX_PORT=$STARTED_PORT PID_OF[node,nginx]=$STARTED_PID
start_haproxy "${DIRECT_PORT[node]}"
HAPROXY_PORT=$STARTED_PORT PID_OF[node,haproxy]=$STARTED_PID
log "peers before the node upstream: nginx :$NGINX_PORT, haproxy :$HAPROXY_PORT"

# ---------------------------------------------------------------- measure ---------------
# Direct, peer and fnshim runs alternate for each setting so that drift hits all alike.
declare -A TARGETS=([node]="direct nginx haproxy fnshim" [naive]="direct fnshim")
declare -A URL=()
for label in node naive; do
  URL[$label,direct]=http://127.0.0.1:${DIRECT_PORT[$label]}/
  URL[$label,fnshim]=http://127.0.0.1:${SHIM_PORT[$label]}/
done
URL[node,nginx]=http://127.0.0.1:$NGINX_PORT/
URL[node,haproxy]=http://127.0.0.1:$HAPROXY_PORT/
((${BENCH_CALLGRIND_ONLY:-0})) || for label in node naive; do
  for target in ${TARGETS[$label]}; do warmup "$label" "$target" "${URL[$label,$target]}"; done
  for conns in 1 64; do
    threads=$((conns == 1 ? 1 : 2))
    for target in ${TARGETS[$label]}; do
      measure "$label" "$conns" "$threads" "$target" "${URL[$label,$target]}"
    done
  done
done
((${BENCH_CALLGRIND_ONLY:-0})) || for target in ${TARGETS[node]}; do measure_ab "$target" "${URL[node,$target]}"; done

sleep 1 # idle again after the load
declare -A LOAD_RSS=() TRIMMED_RSS=() HWM=() LOG_LINES=() SHIM_REQS=()
for label in node naive; do
  pid=${SHIM_PID[$label]}
  alive "$pid" || { log "fnshim ($label) is no longer running"; FAILED=1; }
  LOAD_RSS[$label]=$(rss_kb "$pid" VmRSS)
  HWM[$label]=$(rss_kb "$pid" VmHWM)
  # one "invocation" line per proxied request is expected at LOG_LEVEL=info
  LOG_LINES[$label]=$(grep -c '"message":"invocation"' "$RAW/$label-fnshim.log" || true)
  total=$((1 + ${WARM_REQS[$label,fnshim]:-0})) # the body check, the warm-up
  for conns in 1 64; do total=$((total + ${M[$label,$conns,fnshim,reqs]:-0})); done
  [[ $label != node || -z ${M[node,ab,fnshim,rps]:-} ]] || total=$((total + BENCH_AB_REQUESTS))
  SHIM_REQS[$label]=$total
done
sleep 10 # spares idle 4-6 s are closed, then fnshim trims its heap (1 s after)
for label in node naive; do
  TRIMMED_RSS[$label]=$(rss_kb "${SHIM_PID[$label]}" VmRSS)
done

# ---------------------------------------------------------------- callgrind -------------
# Instructions per request, immune to the VM's noise: each proxy runs under callgrind twice,
# once idle (started, ready, stopped) and once serving a fixed count of wrk requests at 64
# connections; (Ir of the load run - Ir of the idle run) / (requests the proxy logged in the
# load run - in the idle run). nginx proxies to the direct node upstream, fnshim to its own.
# cg_load PORT OUTFILE COUNT-COMMAND...: BENCH_CALLGRIND_REQUESTS requests, 2 wrk threads, 64
# connections. wrk's threads stop at their count, but wrk itself waits for -d: it is stopped
# once the proxy has logged the count (COUNT-COMMAND prints it), or after 280 s.
# CG_WRK_HEADERS: extra wrk -H arguments (the `abh` kind: ab's own headers over HTTP/1.1).
CG_WRK_HEADERS=()
AB_HEADERS=(-H "Connection: Keep-Alive" -H "User-Agent: ApacheBench/2.3" -H "Accept: */*")
cg_load() {
  local port=$1 out=$2 wrk_pid t0=$SECONDS
  shift 2
  WRK_REQUESTS_PER_THREAD=$((BENCH_CALLGRIND_REQUESTS / 2)) \
    wrk -t2 -c64 -d280s --timeout 30s "${CG_WRK_HEADERS[@]}" -s "$ROOT/bench/wrk-count.lua" "http://127.0.0.1:$port/" >"$out" 2>&1 &
  wrk_pid=$!
  while alive "$wrk_pid" && (($("$@") < BENCH_CALLGRIND_REQUESTS && SECONDS - t0 < 290)); do sleep 0.2; done
  sleep 1 # the last answers in flight
  kill -INT "$wrk_pid" 2>/dev/null || true
  wait "$wrk_pid" 2>/dev/null || true
}
cg_ab() { # PORT OUTFILE: the same count from HTTP/1.0 keep-alive clients (ab -k -c64)
  timeout -k 5 300 ab -k -q -n "$BENCH_CALLGRIND_REQUESTS" -c 64 -s 60 "http://127.0.0.1:$1/" >"$2" 2>&1 || true
}
count_lines() { # FILE [PATTERN]
  if [[ -n ${2:-} ]]; then grep -c "$2" "$1" 2>/dev/null || true; else cat "$1" 2>/dev/null | wc -l; fi
}
declare -A CG=() # CG[target,kind,ir|reqs]
callgrind_fnshim() { # KIND (idle|load)
  local kind=$1 port out=$RAW/callgrind-fnshim-$1.out logf=$RAW/callgrind-fnshim-$1.log pid
  port=$(free_port)
  env -u FUNCTION_PATH LOG_LEVEL="$SHIM_LOG_LEVEL" LOG_FORMAT=json PORT="$port" \
    valgrind --tool=callgrind --log-file="$RAW/callgrind-fnshim-$kind.valgrind.txt" \
    --callgrind-out-file="$out" "$BIN" -- node "$NODE_UPSTREAM" >/dev/null 2>"$logf" &
  pid=$!
  wait_code "http://127.0.0.1:$port/_/ready" 200 "$pid" "fnshim under callgrind" 180
  case $kind in
    load) cg_load "$port" "$RAW/callgrind-fnshim-$kind.wrk.txt" count_lines "$logf" '"message":"invocation"' ;;
    abh) # (an array cannot be a command's prefix assignment)
      CG_WRK_HEADERS=("${AB_HEADERS[@]}")
      cg_load "$port" "$RAW/callgrind-fnshim-$kind.wrk.txt" count_lines "$logf" '"message":"invocation"'
      CG_WRK_HEADERS=() ;;
    ab) cg_ab "$port" "$RAW/callgrind-fnshim-$kind.ab.txt" ;;
  esac
  stop_pid "$pid"
  CG[fnshim,$kind,ir]=$(callgrind_total "$out")
  CG[fnshim,$kind,reqs]=$(grep -c '"message":"invocation"' "$logf" || true)
}
callgrind_nginx() { # KIND (idle|load)
  local kind=$1 name=callgrind-nginx-$1
  start_nginx "$name" "${DIRECT_PORT[node]}" valgrind --tool=callgrind \
    --log-file="$RAW/$name.valgrind.txt" --callgrind-out-file="$RAW/$name.out"
  case $kind in
    load) cg_load "$STARTED_PORT" "$RAW/$name.wrk.txt" count_lines "$RAW/$name/logs/access.log" ;;
    abh)
      CG_WRK_HEADERS=("${AB_HEADERS[@]}")
      cg_load "$STARTED_PORT" "$RAW/$name.wrk.txt" count_lines "$RAW/$name/logs/access.log"
      CG_WRK_HEADERS=() ;;
    ab) cg_ab "$STARTED_PORT" "$RAW/$name.ab.txt" ;;
  esac
  stop_pid "$STARTED_PID"
  CG[nginx,$kind,ir]=$(callgrind_total "$RAW/$name.out")
  CG[nginx,$kind,reqs]=$(wc -l <"$RAW/$name/logs/access.log")
}
for target in fnshim nginx; do
  for kind in idle load abh ab; do
    log "callgrind $target $kind"
    "callgrind_$target" "$kind"
  done
  for kind in load abh ab; do
    CG[$target,$kind,per_req]=$(awk -v a="${CG[$target,idle,ir]:-0}" -v b="${CG[$target,$kind,ir]:-0}" \
      -v m="${CG[$target,idle,reqs]:-0}" -v n="${CG[$target,$kind,reqs]:-0}" \
      'BEGIN { if (n > m && b > a) printf "%.0f", (b - a) / (n - m) }')
  done
  CG[$target,ir_per_req]=${CG[$target,load,per_req]:-}
  log "  $target: ${CG[$target,ir_per_req]:-n/a} instructions per request (wrk with ab's headers: ${CG[$target,abh,per_req]:-n/a}; HTTP/1.0 ab -k: ${CG[$target,ab,per_req]:-n/a})"
done
# The functions where fnshim's instructions go (inclusive, top 40), for bench/README.md.
callgrind_annotate --inclusive=yes "$RAW/callgrind-fnshim-load.out" 2>/dev/null | head -n 80 >"$RAW/callgrind-fnshim-load.annotate.txt" || true

# ---------------------------------------------------------------- report ----------------
fmt_int() { [[ -n ${1:-} ]] && printf "%'d" "$1" 2>/dev/null || printf 'n/a'; }
mib() { [[ -n ${1:-} ]] && awk -v k="$1" 'BEGIN { printf "%.2f MiB (%d kB)", k / 1024, k }' || printf 'n/a'; }

ALL_CHECKS=()
check() { # DESCRIPTION VALUE TARGET PASS(0/1)
  local v=PASS
  (($4)) || v=FAIL
  ALL_CHECKS+=("| $1 | $2 | $3 | $v |")
}

{
  echo "# fnshim benchmark"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); host: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), Linux $(uname -r)"
  echo "- fnshim: ${BIN_VERSION:-?}; LOG_LEVEL=$SHIM_LOG_LEVEL, LOG_FORMAT=json, logs to a file; otherwise defaults"
  echo "- tools: $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}'), node $(node --version), $(python3 --version 2>&1), $(rustc --version 2>/dev/null || echo rustc ?)"
  echo "- wrk keep-alive to 127.0.0.1: \`-t1 -c1\` and \`-t2 -c64\`, ${BENCH_SECONDS}s each (after a ${BENCH_WARMUP_SECONDS}s warm-up per target), direct and fnshim runs alternating"
  echo "- upstreams: **node** = bench/upstreams/node-hello.js (Node \`http\`, small JSON); **naive** = bench/upstreams/naive-two-writes.py (headers and body in two writes, Nagle on)"
  echo
  echo "## Latency and throughput"
  echo
  echo "| upstream | conns | through | p50 µs | added p50 µs | p99 µs | req/s | / direct req/s | CPU µs per request (the proxy's process) | errors |"
  echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
  for label in node naive; do
    for conns in 1 64 ab; do
      [[ $conns != ab || $label == node ]] || continue
      for target in ${TARGETS[$label]}; do
        p50=${M[$label,$conns,$target,p50]:-} d50=${M[$label,$conns,direct,p50]:-}
        rps=${M[$label,$conns,$target,rps]:-} drps=${M[$label,$conns,direct,rps]:-}
        added=n/a ratio=n/a
        [[ -n $d50 && -n $p50 && $target != direct ]] && added=$(printf "%'d" $((p50 - d50)))
        [[ -n $drps && -n $rps && $drps -gt 0 ]] && ratio=$(awk -v a="$rps" -v b="$drps" 'BEGIN { printf "%.2f", a / b }')
        shown=$conns
        [[ $conns != ab ]] || shown="64, ab -k (HTTP/1.0)"
        echo "| $label | $shown | $target | $(fmt_int "$p50") | $added | $(fmt_int "${M[$label,$conns,$target,p99]:-}") | $(fmt_int "$rps") | $ratio | ${M[$label,$conns,$target,cpu]:-n/a} | ${M[$label,$conns,$target,errs]:-n/a} |"
      done
    done
  done
  echo
  echo "## Instructions per request (callgrind, wrk -c64, $BENCH_CALLGRIND_REQUESTS requests, minus an idle run)"
  echo
  echo "| proxy | Ir idle run | Ir load run | requests logged (load - idle) | instructions per request | wrk (HTTP/1.1) sending ab's three headers | ab -k (HTTP/1.0, the same headers) |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for target in fnshim nginx; do
    echo "| $target | $(fmt_int "${CG[$target,idle,ir]:-}") | $(fmt_int "${CG[$target,load,ir]:-}") | $(( ${CG[$target,load,reqs]:-0} - ${CG[$target,idle,reqs]:-0} )) | $(fmt_int "${CG[$target,ir_per_req]:-}") | $(fmt_int "${CG[$target,abh,per_req]:-}") | $(fmt_int "${CG[$target,ab,per_req]:-}") |"
  done
  echo
  echo "## fnshim process"
  echo
  echo "| | node upstream | naive upstream |"
  echo "|---|---:|---:|"
  echo "| VmRSS, ready and idle ~1 s | $(mib "${IDLE_RSS[node]}") | $(mib "${IDLE_RSS[naive]}") |"
  echo "| VmRSS, idle ~1 s after the load | $(mib "${LOAD_RSS[node]}") | $(mib "${LOAD_RSS[naive]}") |"
  echo "| VmRSS, idle ~11 s after the load (spares closed and free heap pages given back within ~7 s) | $(mib "${TRIMMED_RSS[node]}") | $(mib "${TRIMMED_RSS[naive]}") |"
  echo "| VmHWM (peak RSS) | $(mib "${HWM[node]}") | $(mib "${HWM[naive]}") |"
  echo "| \`invocation\` log lines / requests sent through fnshim | $(fmt_int "${LOG_LINES[node]}") / $(fmt_int "${SHIM_REQS[node]}") | $(fmt_int "${LOG_LINES[naive]}") / $(fmt_int "${SHIM_REQS[naive]}") |"
  echo
  echo "- binary: \`target/x86_64-unknown-linux-gnu/release/fnshim\`, $(printf "%'d" "$BIN_SIZE") bytes ($(awk -v b="$BIN_SIZE" 'BEGIN { printf "%.2f", b / 1048576 }') MiB)"
  echo "- \`file\`: $BIN_FILE"
  echo

  # Targets (SPEC section 11 and issue 14). MB = MiB, as elsewhere in fnshim.
  d50=${M[node,1,direct,p50]:-} s50=${M[node,1,fnshim,p50]:-} n50=${M[node,1,nginx,p50]:-}
  if [[ -n $d50 && -n $s50 && -n $n50 ]]; then
    check "added p50, node, 1 connection" "$((s50 - d50)) µs (nginx $((n50 - d50)) µs)" "≤ 60 µs and ≤ nginx's" $((s50 - d50 <= 60 && s50 <= n50))
  else check "added p50, node, 1 connection" n/a "≤ 60 µs and ≤ nginx's" 0; fi
  drps=${M[node,64,direct,rps]:-} srps=${M[node,64,fnshim,rps]:-} nrps=${M[node,64,nginx,rps]:-}
  if [[ -n $drps && -n $srps && -n $nrps && $drps -gt 0 ]]; then
    check "throughput, node, 64 connections" "$(awk -v a="$srps" -v b="$drps" 'BEGIN { printf "%.2f", a / b }') of direct (nginx $(awk -v a="$nrps" -v b="$drps" 'BEGIN { printf "%.2f", a / b }'))" "≥ nginx's ratio" $((srps >= nrps))
  else check "throughput, node, 64 connections" n/a "≥ nginx's ratio" 0; fi
  si=${CG[fnshim,ir_per_req]:-} ni=${CG[nginx,ir_per_req]:-}
  if [[ -n $si && -n $ni ]]; then
    check "instructions per request (callgrind)" "$(fmt_int "$si") (nginx $(fmt_int "$ni"))" "≤ nginx's" $((si <= ni))
  else check "instructions per request (callgrind)" n/a "≤ nginx's" 0; fi
  # fnshim's instructions per request with each client (callgrind: no noise); ab (one thread)
  # and wrk (two) load the shared cores differently, so their req/s and CPU are shown only
  # The version's cost: ab's requests against the same three headers sent by wrk over HTTP/1.1
  # (plain wrk, with Host alone, is shown too: the headers themselves cost both proxies).
  i10=${CG[fnshim,ab,per_req]:-} i11=${CG[fnshim,abh,per_req]:-} iw=${CG[fnshim,load,per_req]:-}
  if [[ -n $i10 && -n $i11 ]]; then
    check "HTTP/1.0 keep-alive clients (ab -k) vs HTTP/1.1 (wrk with ab's headers), 64 conns: fnshim's instructions per request" "$(fmt_int "$i10") vs $(fmt_int "$i11") (wrk with Host alone: $(fmt_int "$iw"); CPU ${M[node,ab,fnshim,cpu]:-n/a} vs ${M[node,64,fnshim,cpu]:-n/a} µs)" "within 10%" "$(awk -v a="$i10" -v b="$i11" 'BEGIN { print (a <= 1.1 * b) ? 1 : 0 }')"
  else check "HTTP/1.0 keep-alive clients (ab -k)" n/a "within 10% of HTTP/1.1" 0; fi
  for conns in 1 64; do
    d50=${M[naive,$conns,direct,p50]:-} s50=${M[naive,$conns,fnshim,p50]:-}
    if [[ -n $d50 && -n $s50 ]]; then
      check "no extra Nagle/delayed-ACK stall, naive, $conns conn: added p50" "$(printf "%'d" $((s50 - d50))) µs (direct p50 $(printf "%'d" "$d50") µs)" "< 10 ms" $((s50 - d50 < 10000))
    else check "no extra Nagle/delayed-ACK stall, naive, $conns conn" n/a "< 10 ms" 0; fi
  done
  if [[ -n ${IDLE_RSS[node]:-} ]]; then
    check "idle RSS (node)" "$(mib "${IDLE_RSS[node]}")" "≤ 4 MiB" $((IDLE_RSS[node] <= 4096))
  else check "idle RSS (node)" n/a "≤ 4 MiB" 0; fi
  if [[ -n ${TRIMMED_RSS[node]:-} ]]; then
    check "RSS after the load (node, ~11 s later)" "$(mib "${TRIMMED_RSS[node]}")" "≤ 5 MiB" $((TRIMMED_RSS[node] <= 5120))
  else check "RSS after the load (node)" n/a "≤ 5 MiB" 0; fi
  check "binary size" "$(awk -v b="$BIN_SIZE" 'BEGIN { printf "%.2f MiB", b / 1048576 }')" "≤ 4 MiB" $((BIN_SIZE <= 4194304))
  errs=0
  for label in node naive; do for conns in 1 64; do errs=$((errs + ${M[$label,$conns,fnshim,errs]:-0})); done; done
  check "wrk errors through fnshim (non-2xx + socket)" "$errs" "0" $((errs == 0))

  echo "## Targets"
  echo
  echo "| check | measured | target | |"
  echo "|---|---|---|---|"
  printf '%s\n' "${ALL_CHECKS[@]}"
  echo
  echo "Raw wrk outputs and fnshim logs: bench/results/raw/"
} >"$RESULTS/latest.md"

echo
cat "$RESULTS/latest.md"
((FAILED == 0)) || die "some measurements failed (see above); the report is incomplete"
