#!/usr/bin/env bash
# The same-run peers of bench/run.sh (sourced, not run): nginx and haproxy configured as a user
# would put them in front of one local server (one worker or thread, keep-alive upstream
# connections), the CPU a process spends per request (/proc/PID/stat), ab's HTTP/1.0
# keep-alive runs, and callgrind's instruction count per request.

# start_nginx NAME UPSTREAM_PORT [WRAPPER...] -> sets STARTED_PID, STARTED_PORT. One process
# (master_process off, 1 worker), upstream keep-alive over HTTP/1.1, the default access log to
# a file (fnshim logs one line per request too). Its files go to $RAW/NAME.
start_nginx() {
  local dir=$RAW/$1 up=$2 wrap=()
  shift 2
  wrap=("$@")
  mkdir -p "$dir/logs" "$dir/tmp"
  : >"$dir/logs/access.log"
  STARTED_PORT=$(free_port)
  cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log $dir/logs/access.log;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  upstream app { server 127.0.0.1:$up; keepalive 64; }
  server {
    listen 127.0.0.1:$STARTED_PORT;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
  "${wrap[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" >"$dir/stdout" 2>&1 &
  STARTED_PID=$!
  wait_code "http://127.0.0.1:$STARTED_PORT/" 200 "$STARTED_PID" "nginx [log: $dir/logs/error.log]" 120
}

# start_haproxy UPSTREAM_PORT -> sets STARTED_PID, STARTED_PORT. One thread, foreground,
# `http-reuse always` (idle upstream connections shared by every client), no log.
start_haproxy() {
  local up=$1 dir=$RAW/haproxy
  mkdir -p "$dir"
  STARTED_PORT=$(free_port)
  cat >"$dir/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend public
  bind 127.0.0.1:$STARTED_PORT
  default_backend app
backend app
  server app 127.0.0.1:$up
CONF
  haproxy -db -f "$dir/haproxy.cfg" >"$dir/out.log" 2>&1 &
  STARTED_PID=$!
  wait_code "http://127.0.0.1:$STARTED_PORT/" 200 "$STARTED_PID" "haproxy [log: $dir/out.log]"
}

CLK_TCK=$(getconf CLK_TCK)
# cpu_ticks PID -> utime + stime of the process (all its threads), in clock ticks
cpu_ticks() {
  local stat
  stat=$(<"/proc/$1/stat") || { echo 0; return; }
  stat=${stat##*) }
  awk '{ print $12 + $13 }' <<<"$stat"
}
# cpu_us_per_request TICKS_BEFORE TICKS_AFTER REQUESTS
cpu_us_per_request() {
  awk -v a="$1" -v b="$2" -v n="$3" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / hz / n }'
}

# run_ab OUTFILE REQUESTS CONNS URL -> sets A_RPS A_ERRS; HTTP/1.0 with keep-alive (ab -k)
run_ab() {
  local out=$1 rc=0 failed non2xx
  A_RPS= A_ERRS=
  timeout -k 5 120 ab -k -q -n "$2" -c "$3" -s 5 "$4" >"$out" 2>&1 || rc=$?
  ((rc == 0)) || return 1
  A_RPS=$(awk '$1 == "Requests" && $2 == "per" {printf "%.0f", $4; exit}' "$out")
  failed=$(awk '$1 == "Failed" && $2 == "requests:" {print $3; exit}' "$out")
  non2xx=$(awk '$1 == "Non-2xx" {print $3; exit}' "$out")
  A_ERRS=$((${failed:-0} + ${non2xx:-0}))
  [[ $A_RPS =~ ^[0-9]+$ ]]
}

# callgrind_total FILE -> the instructions (Ir) callgrind counted over the whole run
callgrind_total() {
  awk '$1 == "summary:" || $1 == "totals:" { print $2; exit }' "$1"
}
