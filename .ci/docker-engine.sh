#!/usr/bin/env bash
# For the container tests (tests/containers): Debian's Docker engine, docker-compose 1.29 and debootstrap
# (the lab's base image, docker/base/build-debian-base.sh), installed if missing, and dockerd started as
# root in the background if no engine answers (log: .lab/logs/dockerd.log). Idempotent: an engine that
# already runs is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if docker info >/dev/null 2>&1; then
  echo "docker engine: already running ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi
mkdir -p .lab/logs
nohup dockerd >.lab/logs/dockerd.log 2>&1 &
for _ in $(seq 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker engine: started ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
echo "the Docker engine did not start: see .lab/logs/dockerd.log" >&2
exit 1
