#!/usr/bin/env bash
# Container cold start and image sizes (SPEC §9, §11): RUNS times `docker run -d` of the node
# and python images with their example function mounted read-only, timed from just before
# `docker run` to the first 200 on a 127.0.0.1 port; against the same for fnshim/custom with a
# static bootstrap (Docker's own cost, with no language runtime to start). Series interleaved,
# one unrecorded warm-up each, medians reported, with the size of every image.
# Needs the engine and the images: bash scripts/docker.sh && bash scripts/images.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-10}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
need curl
docker info >/dev/null 2>&1 || die "no Docker engine: run scripts/docker.sh"

names=()
remove_containers() { ((${#names[@]})) && docker rm -f "${names[@]}" >/dev/null 2>&1 || true; cleanup; }

median() { sort -n | awk '{a[NR]=$1} END {printf "%.0f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now_us() { date +%s%6N; }

# One cold start: prints the µs from `docker run` to the first 200 on GET /.
cold_start() { # runtime function-folder
  local image=fnshim/$1:$VERSION name=fnshim-bench-$1-$RANDOM port t0 t1
  port=$(free_port)
  names+=("$name")
  t0=$(now_us)
  docker run -d --name "$name" -p "127.0.0.1:$port:8080" \
    -v "$2:/app/function:ro" "$image" >/dev/null
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/") == 200 ]]; do
    (($(now_us) - t0 < 60000000)) || die "$image: no 200 within 60 s: $(docker logs "$name" 2>&1 | tail -n 3)"
    sleep 0.005
  done
  t1=$(now_us)
  docker rm -f "$name" >/dev/null
  echo $((t1 - t0))
}

# The baseline: fnshim/custom with a static bootstrap (examples/static-hello, compiled here),
# no language runtime to start: what Docker, the port proxy and fnshim cost together.
static=$(mktemp -d)
trap 'rm -rf "$static"; remove_containers' EXIT
chmod 755 "$static"
rustc -O -C target-feature=+crt-static --target x86_64-unknown-linux-gnu \
  examples/static-hello/main.rs -o "$static/bootstrap"

declare -A start
for runtime in node python custom; do
  docker image inspect "fnshim/$runtime:$VERSION" >/dev/null || die "fnshim/$runtime:$VERSION is missing: run scripts/images.sh"
done
series="$static:custom $PWD/examples/node-hello:node $PWD/examples/python-hello:python"
for s in $series; do cold_start "${s#*:}" "${s%:*}" >/dev/null; done # unrecorded warm-up
samples=$(mktemp)
for _ in $(seq "$RUNS"); do # the series interleaved
  for s in $series; do echo "${s#*:} $(cold_start "${s#*:}" "${s%:*}")" >>"$samples"; done
done
for runtime in node python custom; do
  start[$runtime]=$(awk -v r="$runtime" '$1 == r {print $2}' "$samples" | median)
done
rm -f "$samples"

ms() { awk -v us="$1" 'BEGIN {printf "%.0f", us / 1000}'; }
echo "Cold start, median of $RUNS runs ($(docker version --format 'Docker {{.Server.Version}}'), $(nproc) cores):"
echo
echo "| image (function) | docker run → first 200 ms | over the static baseline ms |"
echo "|---|---:|---:|"
for runtime in custom node python; do
  echo "| fnshim/$runtime ($(case $runtime in custom) echo static-hello ;; *) echo "$runtime-hello" ;; esac)) | $(ms "${start[$runtime]}") | $(ms $((start[$runtime] - start[custom]))) |"
done
echo
echo "| image | size MB |"
echo "|---|---:|"
for tag in debian:bookworm-slim fnshim/base:$VERSION fnshim/node:$VERSION fnshim/python:$VERSION \
  fnshim/deno:$VERSION fnshim/custom:$VERSION; do
  size=$(docker image inspect -f '{{.Size}}' "$tag" 2>/dev/null) || { echo "| $tag | missing |"; continue; }
  echo "| $tag | $(awk -v b="$size" 'BEGIN {printf "%.1f", b / 1e6}') |"
done
echo "| fnshim binary alone | $(awk -v b="$(stat -c %s target/x86_64-unknown-linux-gnu/release/fnshim)" 'BEGIN {printf "%.1f", b / 1e6}') |"
