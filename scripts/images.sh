#!/usr/bin/env bash
# Builds every runtime image on the local Docker engine (run scripts/docker.sh first):
#   scripts/images.sh            all images
#   scripts/images.sh node deno  some of them (base is built when missing)
# Tags: fnshim/{base,node,python,deno,custom}:<crate version> and :latest, and
# dartserverless/runtime:<DART_VERSION> (default 3.5.4) and :latest. The build context is
# target/docker-context, holding only the static release fnshim. HTTPS during a build (the
# Deno download) trusts $CA_BUNDLE, passed as the BuildKit secret `ca`, never stored in a layer.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
DART_VERSION=${DART_VERSION:-3.5.4}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
CONTEXT=target/docker-context
say() { echo "images.sh: $*" >&2; }

# BuildKit (for the secret mount) through a client that has it built in: Docker 23+ clients
# need the buildx plugin, Debian's 20.10 client (/usr/bin/docker) does not.
if docker buildx version >/dev/null 2>&1 || [ ! -x /usr/bin/docker ]; then
  DOCKER=docker
else
  DOCKER=/usr/bin/docker
fi

build() { # build IMAGE TAG DOCKERFILE [docker build options...]
  local image=$1 tag=$2 dockerfile=$3 started=$SECONDS
  shift 3
  local secret=()
  [ -s "$CA_BUNDLE" ] && secret=(--secret "id=ca,src=$CA_BUNDLE")
  DOCKER_BUILDKIT=1 $DOCKER build --quiet "${secret[@]}" \
    --build-arg "FNSHIM_VERSION=$VERSION" \
    --label "org.opencontainers.image.version=$tag" --label fnshim.built-by=scripts/images.sh \
    -t "$image:$tag" -t "$image:latest" -f "$dockerfile" "$@" "$CONTEXT" >/dev/null
  say "$image:$tag built in $((SECONDS - started)) s ($(docker image inspect -f '{{.Size}}' "$image:$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# The official Dart image is the one base that cannot be built from Debian here: without it
# (no registry), say so once and go on.
build_dart() {
  if ! docker image inspect "dart:$DART_VERSION" >/dev/null 2>&1 &&
    ! timeout 60 docker pull -q "dart:$DART_VERSION" >/dev/null 2>&1; then
    echo "SKIPPED: dartserverless/runtime:$DART_VERSION: the base image dart:$DART_VERSION cannot be pulled (no registry reachable)"
    return
  fi
  build dartserverless/runtime "$DART_VERSION" images/dart/Dockerfile --build-arg "DART_VERSION=$DART_VERSION"
}

cargo build --release --quiet
mkdir -p "$CONTEXT"
cp target/x86_64-unknown-linux-gnu/release/fnshim "$CONTEXT/fnshim"

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(base node python deno custom dart)
for name in "${wanted[@]}"; do
  case $name in
    base) build fnshim/base "$VERSION" images/base/Dockerfile ;;
    node | python | deno)
      docker image inspect "fnshim/base:$VERSION" >/dev/null 2>&1 ||
        build fnshim/base "$VERSION" images/base/Dockerfile
      build "fnshim/$name" "$VERSION" "images/$name/Dockerfile" ;;
    custom) build fnshim/custom "$VERSION" images/custom/Dockerfile ;;
    dart) build_dart ;;
    *) say "unknown image $name (base node python deno custom dart)"; exit 64 ;;
  esac
done

# A rebuilt fnshim leaves the previous images untagged: drop those (ours only).
docker image prune --force --filter label=fnshim.built-by=scripts/images.sh >/dev/null
