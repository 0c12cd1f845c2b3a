#!/usr/bin/env bash
# One-command try-out on a fresh Debian machine (as root): installs Prosody, builds the
# service, starts a throwaway Prosody on loopback and the service, creates a key and prints a
# ready curl line. Ctrl-C stops both and removes the throwaway Prosody.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s prosody prosody-modules lua-dbi-sqlite3 >/dev/null 2>&1 || ! command -v npm >/dev/null; then
  apt-get update -q
  # npm (with Debian's Node.js 18) only to fetch Node.js 24 below, when the machine has no npm.
  apt-get install -y -q --no-install-recommends prosody prosody-modules lua-dbi-sqlite3 python3 make g++ \
    $(command -v npm >/dev/null || echo npm)
fi
# Node.js 24 (the current LTS line) when the machine's is older: Debian 12's own is 18.
node_bin="$(bash scripts/node-lts.sh)"
export PATH="$node_bin:$PATH" npm_config_nodedir="${node_bin%/bin}"
# Installed again when missing, or built by another Node.js (SQLite's addon would not load).
node -e 'new (require("better-sqlite3"))(":memory:")' 2>/dev/null || npm ci --no-audit --no-fund
npm run --silent build
exec node --import tsx scripts/try.ts
