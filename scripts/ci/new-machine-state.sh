#!/usr/bin/env bash
# Puts this machine back in the state of one that never ran the suite, as far as the suite's own
# traces go, so that a following `CI=true bash .ci/run` shows what a new CI machine sees (issue 25):
# every container, image, volume and build cache in the Docker engine's store, and the project's
# caches under /var/tmp (Prosody 13, the backports modules, the stand-in and compose caches).
# Run as root with no test running. Docker's store is only ever filled by this project's tests on
# these machines; when a dockerd is running, it is asked to remove everything first.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  ids="$(docker ps -aq)"
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  docker system prune -af --volumes >/dev/null
  docker builder prune -af >/dev/null
  echo "docker: containers, images, volumes and build cache removed (engine left running)"
elif pgrep -x dockerd >/dev/null; then
  echo "a dockerd runs but does not answer: stop it first" >&2
  exit 1
else
  # No engine: its whole store goes, as on a machine where the engine never ran.
  rm -rf /var/lib/docker /var/lib/containerd /var/run/docker.pid
  echo "docker: /var/lib/docker and /var/lib/containerd removed"
fi

rm -rf /var/tmp/invites-api-*
echo "/var/tmp/invites-api-* removed"
