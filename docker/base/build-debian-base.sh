#!/usr/bin/env bash
# Builds the lab's stand-in base image where no registry can be pulled from: a minimal Debian bookworm
# rootfs made with debootstrap from Debian's mirror, imported into the engine as taxilab/debian-base:bookworm.
# Cached: does nothing when the engine already has the image. Needs root, debootstrap and a Docker engine.
# Usage: docker/base/build-debian-base.sh [IMAGE]   (env DEBIAN_MIRROR to use another mirror)
set -euo pipefail
image="${1:-taxilab/debian-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Image builds on such machines must trust the host's CA bundle (TLS to PyPI/Maven goes through its proxy):
# handed to the builds as docker/ca/host-ca.crt (git-ignored; see docker/ca/README.md).
ca_src="${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
ca_dst="$(cd "$(dirname "$0")/.." && pwd)/ca/host-ca.crt"
if [ -s "$ca_src" ] && ! cmp -s "$ca_src" "$ca_dst"; then cp "$ca_src" "$ca_dst"; fi
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image: already built (cached)"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
rootfs="$(mktemp -d /var/tmp/taxilab-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "building $image: debootstrap --variant=minbase bookworm from $mirror ..."
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
# The same suites a Debian image has (security fixes included); no recommends, no apt caches.
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/90taxilab"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "$image: built"
