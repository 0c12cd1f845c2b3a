#!/usr/bin/env bash
# Installs a Docker engine and docker-compose from Debian's archive when they are missing (as root).
# Used by .ci/run and by `npm run test:compose`; it starts nothing (the test starts and stops dockerd).
# debootstrap builds the stand-in base image on machines without an image registry (test/compose/standins).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(docker.io docker-compose debootstrap iptables)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
