#!/usr/bin/env bash
# Helpers shared by the benchmark scripts (sourced, not run): logging, stopping every process a
# script started, installing a missing tool from Debian's packages, ports and HTTP polling.

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- cleanup ---------------
# Every process this script starts is a descendant of it (fnshim is a child subreaper, so its
# workers stay below it too). On exit: TERM them all, wait up to 5 s, then KILL.
descendants() {
  ps -e -o pid=,ppid= | awk -v root="$$" '
    { parent[$1] = $2 }
    END {
      n = 1; list[1] = root
      for (i = 1; i <= n; i++)
        for (p in parent)
          if (parent[p] == list[i]) list[++n] = p
      for (i = 2; i <= n; i++) print list[i]
    }'
}
alive() { # pid -> 0 if it exists and is not a zombie (builtins only: used in polling loops)
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ -n $stat && ${stat:0:1} != Z ]]
}
stop_pid() { # PID: SIGTERM, then wait up to 60 s, then SIGKILL
  local i
  kill -TERM "$1" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do alive "$1" || break; sleep 0.1; done
  alive "$1" && kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local rc=$? pids=() p i
  trap - EXIT INT TERM
  mapfile -t pids < <(descendants)
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      local any=0
      for p in "${pids[@]}"; do alive "$p" && any=1 && break; done
      ((any)) || break
      sleep 0.1
    done
    mapfile -t -O "${#pids[@]}" pids < <(descendants)
    for p in "${pids[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null || true; done
  fi
  wait 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- prerequisites ---------
APT_UPDATED=0
need() { # command [debian-package]
  command -v "$1" >/dev/null 2>&1 && return 0
  local pkg=${2:-$1} sudo=()
  command -v apt-get >/dev/null 2>&1 || die "'$1' is missing and apt-get is not available: install $pkg"
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "'$1' is missing; run as root or install $pkg"
    sudo=(sudo)
  fi
  if ((!APT_UPDATED)); then
    log "apt-get update"
    "${sudo[@]}" apt-get update
    APT_UPDATED=1
  fi
  log "apt-get install -y $pkg"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg"
  command -v "$1" >/dev/null 2>&1 || die "installing $pkg did not provide '$1'"
}

free_port() {
  "${PY:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true; }
wait_code() { # url code pid what [seconds]
  local url=$1 want=$2 pid=$3 what=$4 limit=${5:-60} t0=$SECONDS
  while [[ $(http_code "$url") != "$want" ]]; do
    alive "$pid" || die "$what exited before answering $want on $url"
    ((SECONDS - t0 < limit)) || die "$what did not answer $want on $url within ${limit}s"
    sleep 0.05
  done
}

# to_us VALUE-WITH-UNIT (wrk text output: 812.00us, 1.23ms, 2.00s, 1.00m) -> microseconds
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v; sub(/[a-zA-Zµ]+$/, "", n); u = substr(v, length(n) + 1)
    if (n !~ /^[0-9]+(\.[0-9]+)?$/) exit 1
    if (u == "us") m = 1; else if (u == "ms") m = 1000; else if (u == "s") m = 1000000
    else if (u == "m") m = 60000000; else if (u == "h") m = 3600000000; else exit 1
    printf "%.0f", n * m }'
}

# run_wrk OUTFILE THREADS CONNS SECONDS URL: bounded in time; returns wrk's status
# (LUA: the script's wrk-report.lua).
run_wrk() {
  local out=$1 threads=$2 conns=$3 secs=$4 url=$5 rc=0
  timeout -k 5 $((secs + 30)) wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 5s --latency \
    -s "$LUA" "$url" >"$out" 2>&1 &
  wait $! || rc=$?
  return "$rc"
}
