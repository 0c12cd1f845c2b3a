#!/usr/bin/env bash
# One-command try-out on a fresh Debian machine with Node (as root): installs Prosody, builds the
# service, starts a throwaway Prosody on loopback and the service, creates a key and prints a
# ready curl line. Ctrl-C stops both and removes the throwaway Prosody.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s prosody prosody-modules lua-dbi-sqlite3 >/dev/null 2>&1; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends prosody prosody-modules lua-dbi-sqlite3 python3 make g++
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
exec node --import tsx scripts/try.ts
