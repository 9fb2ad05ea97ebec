#!/usr/bin/env bash
# Runs every test of fnshim, installing what the tests need first. CI calls exactly this.
#   scripts/test.sh            all tests (unit + integration + PID 1 suite)
#   scripts/test.sh pid1       a nextest filter, passed through
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# The PID 1 suite runs the shim under `unshare --pid --fork --mount-proc` and signals it with
# nsenter (util-linux); the fixtures are python3 and sh scripts.
need unshare && need nsenter || apt_install util-linux
need python3 || apt_install python3
# E3 builds a static C fixture and reads the binary's type.
need gcc || apt_install gcc libc6-dev
# The fuzz step's libFuzzer (libfuzzer-sys) is C++.
need g++ || apt_install g++
need file || apt_install file
# Handler runtimes under test: node (with npm) and deno (Deno ships as a PyPI package).
need node || apt_install nodejs npm
need deno || python3 -m pip install --quiet deno
need cargo || { echo "cargo (Rust) is required: https://rustup.rs" >&2; exit 1; }
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

# The container tests (tests/it/docker) need a Docker engine, a local debian:bookworm-slim
# (no registry is reachable from CI) and the runtime images built from images/.
bash scripts/docker.sh
bash scripts/images.sh

cargo build --tests --quiet
cargo nextest run --no-fail-fast --failure-output final "$@"
# Every parser fuzzed for 15 s (bench/fuzz.sh; its README section has the longer runs), after the
# tests and only for a full run; a crash fails the script.
[ $# -gt 0 ] || FUZZ_QUICK=1 bash bench/fuzz.sh 15
