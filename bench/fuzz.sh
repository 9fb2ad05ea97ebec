#!/usr/bin/env bash
# Fuzzes every parser of fnshim (fuzz/fuzz_targets, cargo-fuzz) for SECONDS each and prints, per
# target, the runs, the corpus size and the crashes; fails if any target crashed.
#   bench/fuzz.sh [SECONDS] [TARGET...]     600 s each by default, every target by default
# FUZZ_SANITIZER=address adds ASan (nightly flags; the parsers are safe Rust, so the default
# `none` only trades it for speed). FUZZ_QUICK=1 builds less optimised, for CI's short run.
# New inputs go to fuzz/target/corpus/<target> (not committed); fuzz/corpus/<target> is the
# seed corpus, read only; cargo-fuzz keeps a crashing input in fuzz/artifacts/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
triple=x86_64-unknown-linux-gnu
sanitizer=${FUZZ_SANITIZER:-none}

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# cargo-fuzz's flags are stable ones except -Zsanitizer; RUSTC_BOOTSTRAP lets the stable
# toolchain take it. Its RUSTFLAGS replace .cargo/config.toml's +crt-static (sanitizers refuse
# static binaries), and --target keeps them off build scripts and proc macros.
export RUSTC_BOOTSTRAP=1
build=(-s "$sanitizer" --target "$triple")
if [ -n "${FUZZ_QUICK:-}" ]; then
  # One codegen unit and opt-level 3 are cargo-fuzz's defaults: twice the build time of this.
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=1
  build+=(--codegen-units 16 --target-dir fuzz/target/quick)
fi

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)

mkdir -p fuzz/target/logs
started=$(date +%s)
if ! nice -n 10 cargo fuzz build "${build[@]}" >fuzz/target/logs/build.log 2>&1; then
  tail -40 fuzz/target/logs/build.log >&2
  echo "fuzz: the targets do not build" >&2
  exit 1
fi
echo "fuzz: built in $(($(date +%s) - started)) s"

passed=0
failed=0
for target in "${targets[@]}"; do
  scratch=fuzz/target/corpus/$target
  artifacts=fuzz/artifacts/$target
  log=fuzz/target/logs/$target.log
  mkdir -p "$scratch" "$artifacts"
  before=$(find "$artifacts" -type f | wc -l)
  status=0
  nice -n 10 cargo fuzz run "${build[@]}" "$target" "$scratch" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || true)
  [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  corpus=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //')
  crashes=$(($(find "$artifacts" -type f | wc -l) - before))
  [ "$status" = 0 ] || [ "$crashes" -gt 0 ] || crashes=1
  echo "fuzz: $target: ${runs:-0} runs in ${seconds} s, corpus ${corpus:-?} (inputs/bytes), $crashes crashes"
  if [ "$crashes" = 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    grep -E -A4 "panicked|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" | head -20 >&2 || true
    echo "fuzz: $target: log in $log, input in $artifacts" >&2
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
