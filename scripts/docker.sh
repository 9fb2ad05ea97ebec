#!/usr/bin/env bash
# A local Docker engine and base image for the image tests, on a machine with no registry:
#   scripts/docker.sh     install docker.io, docker-compose and debootstrap from Debian (when
#                         missing), start dockerd (unless `docker info` already answers), and
#                         make sure `debian:bookworm-slim` exists in its image store.
# Idempotent: a second run only checks. The base is built from Debian's packages with
# `debootstrap --variant=minbase` and `docker import`, and kept as a tarball under
# $FNSHIM_DOCKER_CACHE (default /var/cache/fnshim-docker), so a fresh docker store re-imports
# it in seconds instead of bootstrapping again.
set -euo pipefail

CACHE=${FNSHIM_DOCKER_CACHE:-/var/cache/fnshim-docker}
BASE=debian:bookworm-slim
# Debian's mirror as this machine's apt knows it (a deb822 `URIs:` line of a .sources file, or
# a one-line `deb URL` entry), unless DEBIAN_MIRROR names one.
apt_mirror() {
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/debian/ && !/security/ {print $2; exit}')
  [ -n "$uri" ] || uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/ && $i ~ /debian/ && $i !~ /security/) {print $i; exit}}')
  echo "$uri"
}
MIRROR=${DEBIAN_MIRROR:-$(apt_mirror)}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/fnshim-dockerd.log}

need() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
say() { echo "docker.sh: $*" >&2; }

install_packages() {
  local missing=()
  need dockerd || missing+=(docker.io)
  need docker-compose || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
  need debootstrap || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

# overlay2 first; vfs (slow, but works on any filesystem) when the kernel or the backing
# filesystem refuses overlay.
start_dockerd() {
  docker info >/dev/null 2>&1 && return
  local driver
  for driver in overlay2 vfs; do
    say "starting dockerd (storage driver $driver, log in $DOCKERD_LOG)"
    as_root sh -c "nohup dockerd --storage-driver=$driver >>'$DOCKERD_LOG' 2>&1 &"
    local i
    for i in $(seq 1 60); do
      docker info >/dev/null 2>&1 && return
      as_root pgrep -x dockerd >/dev/null || break
      sleep 0.5
    done
    say "dockerd with $driver did not answer; last lines of its log:"
    tail -n 5 "$DOCKERD_LOG" >&2 || true
    as_root pkill -x dockerd || true
    sleep 1
  done
  say "cannot start dockerd (see $DOCKERD_LOG)"
  exit 1
}

# A minimal Debian close to the official slim image: no documentation or manuals, no apt
# lists, the security and updates suites in sources.list.
bootstrap_base() {
  local tarball=$CACHE/debian-bookworm-slim.tar
  if [ ! -s "$tarball" ]; then
    local root
    root=$(mktemp -d /var/tmp/fnshim-rootfs.XXXXXX)
    [ -n "$MIRROR" ] || { say "no Debian mirror found in /etc/apt's sources: set DEBIAN_MIRROR"; exit 69; }
    say "debootstrap --variant=minbase bookworm from $MIRROR (a few minutes, once)"
    as_root debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 ||
      { tail -n 20 "$root.log" >&2; exit 1; }
    as_root tee "$root/etc/apt/sources.list" >/dev/null <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
EOF
    as_root tee "$root/etc/dpkg/dpkg.cfg.d/docker-slim" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
    as_root sh -c "cd '$root' && rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* \
      usr/share/man/* usr/share/info/* usr/share/locale/* var/log/*.log && \
      find usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete"
    as_root mkdir -p "$CACHE"
    as_root tar -C "$root" --numeric-owner -cf "$tarball.partial" .
    as_root mv "$tarball.partial" "$tarball"
    as_root rm -rf "$root" "$root.log"
  fi
  say "importing $tarball as $BASE"
  docker import --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tarball" "$BASE" >/dev/null
}

install_packages
start_dockerd
docker image inspect "$BASE" >/dev/null 2>&1 || bootstrap_base
say "ready: $(docker version --format 'engine {{.Server.Version}}'), base $BASE"
