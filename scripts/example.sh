#!/usr/bin/env bash
# Builds fnshim and serves the bundled example function (examples/custom-hello, a custom
# `bootstrap`) on 127.0.0.1:${PORT:-8080}: a few requests, the metrics, then a clean SIGTERM.
#   scripts/example.sh           the demo, then exit
#   scripts/example.sh --serve   keep serving until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8080}
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
cargo build --release --quiet
bin=target/x86_64-unknown-linux-gnu/release/fnshim

if [ "${1:-}" = "--serve" ]; then
  echo "serving examples/custom-hello on http://127.0.0.1:$port (Ctrl-C stops it)"
  FUNCTION_PATH=examples/custom-hello PORT=$port LOG_FORMAT=text exec "$bin"
fi

log=$(mktemp)
FUNCTION_PATH=examples/custom-hello PORT=$port LOG_FORMAT=text "$bin" 2>"$log" &
shim=$!
trap 'kill -9 $shim 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 200); do
  curl -fs "http://127.0.0.1:$port/_/ready" >/dev/null 2>&1 && break
  kill -0 $shim 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.05
done
show() { echo "\$ curl $*"; curl -s "$@"; echo; echo; }
show -i "http://127.0.0.1:$port/hello?name=fnshim"
show -X POST -H 'content-type: application/json' -d '{"order":42}' "http://127.0.0.1:$port/invoke"
show "http://127.0.0.1:$port/_/ready"
echo "\$ curl http://127.0.0.1:$port/_/metrics | grep invocations_total"
curl -s "http://127.0.0.1:$port/_/metrics" | grep 'invocations_total{outcome="success"}'
kill -TERM $shim
status=0; wait $shim || status=$?
echo
echo "--- fnshim's log ---"
cat "$log"
echo "--- fnshim exited with $status after SIGTERM ---"
[ "$status" = 0 ]
