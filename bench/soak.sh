#!/usr/bin/env bash
# The kill -9 soak (issue: reliability). For handler mode (bench/functions/node, 2 workers) and
# proxy mode (`fnshim -- node bench/upstreams/node-hello.js`): SOAK_SECONDS at 64 keep-alive
# connections (bench/soak-client.py), one of fnshim's children SIGKILLed every 10 s, and
# fnshim's RSS and open descriptors sampled every 10 s. Reported per mode: responses by
# status, requests with no answer, the longest run of errors, the samples. Run from the
# repository root:
#
#     bench/soak.sh               # 10 minutes per mode, the release build
#     SOAK_SECONDS=60 bench/soak.sh   # what scripts/test.sh runs in CI
#
# It fails (exit 1) when a request got no answer, when the last third of the samples holds
# more descriptors than the first third (+2), or more RSS (×1.2 + 512 KiB): fnshim must stay
# flat while its children die. Environment: SOAK_SECONDS (600), SOAK_MODES ("handler proxy"),
# FNSHIM_BIN (default: build and use the release binary).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source bench/lib.sh

SECONDS_PER_MODE=${SOAK_SECONDS:-600}
[[ $SECONDS_PER_MODE =~ ^[0-9]+$ ]] && ((SECONDS_PER_MODE >= 30)) ||
  die "SOAK_SECONDS must be a whole number of seconds, at least 30 (got '$SECONDS_PER_MODE')"
need python3
need node nodejs
if [[ -z ${FNSHIM_BIN:-} ]]; then
  log "cargo build --release"
  cargo build --release --quiet
  FNSHIM_BIN=$ROOT/target/x86_64-unknown-linux-gnu/release/fnshim
fi
OUT=$ROOT/bench/results/soak
mkdir -p "$OUT"

sample() { # pid -> "rss_kb fds"
  local rss
  rss=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status")
  echo "$rss $(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l)"
}

soak_mode() { # mode -> prints one report line; returns 1 on a failed check
  local mode=$1 port pid client_pid samples=() failed=0
  port=$(free_port)
  case $mode in
    handler) PORT=$port FUNCTION_PATH=$ROOT/bench/functions/node FUNCTION_WORKERS=2 \
               "$FNSHIM_BIN" >"$OUT/$mode.log" 2>&1 & ;;
    proxy) PORT=$port "$FNSHIM_BIN" -- node "$ROOT/bench/upstreams/node-hello.js" \
               >"$OUT/$mode.log" 2>&1 & ;;
  esac
  pid=$!
  wait_code "http://127.0.0.1:$port/_/ready" 200 "$pid" "fnshim ($mode)"
  timeout -k 5 $((SECONDS_PER_MODE + 60)) python3 bench/soak-client.py "$port" 64 "$SECONDS_PER_MODE" \
    >"$OUT/$mode.json" &
  client_pid=$!
  local t
  for ((t = 10; t <= SECONDS_PER_MODE; t += 10)); do
    sleep 10
    samples+=("$(sample "$pid")")
    local child
    child=$(pgrep -P "$pid" | shuf -n 1 || true)
    [[ -n $child ]] && kill -KILL "$child" 2>/dev/null || true
  done
  wait "$client_pid" || die "the soak client failed ($mode)"
  kill -TERM "$pid"; wait "$pid" || true
  local report
  report=$(cat "$OUT/$mode.json")
  python3 - "$mode" "$report" "${samples[@]}" <<'PY' || failed=1
import json, sys
mode, report, samples = sys.argv[1], json.loads(sys.argv[2]), [tuple(map(int, s.split())) for s in sys.argv[3:]]
third = max(1, len(samples) // 3)
first, last = samples[:third], samples[-third:]
rss_ok = max(r for r, _ in last) <= max(r for r, _ in first) * 1.2 + 512
fds_ok = max(f for _, f in last) <= max(f for _, f in first) + 2
print(f"| {mode} | {report['requests']} | {json.dumps(report['statuses'], sort_keys=True)} | "
      f"{report['no_answer']} | {report['longest_error_run_ms']} ms | "
      f"{' '.join(str(r) for r, _ in samples)} | {' '.join(str(f) for _, f in samples)} |")
problems = [p for p, bad in [("requests without an answer", report["no_answer"] > 0),
                             ("RSS grew", not rss_ok), ("descriptors grew", not fds_ok)] if bad]
if problems:
    print(f"soak ({mode}): " + ", ".join(problems), file=sys.stderr)
    sys.exit(1)
PY
  return "$failed"
}

echo "| mode | requests | responses by status | no answer | longest error run | RSS KiB every 10 s | descriptors every 10 s |"
echo "|---|---:|---|---:|---:|---|---|"
status=0
for mode in ${SOAK_MODES:-handler proxy}; do
  soak_mode "$mode" || status=1
done
exit "$status"
