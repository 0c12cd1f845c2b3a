#!/usr/bin/env bash
# Builds local stand-ins for the images the deployment names, on machines that reach Debian's
# archive but no image registry (see the README's docker-compose section):
#   debian:bookworm-slim (debootstrap), node:24-bookworm-slim, prosodyim/prosody:13.0, redis:7.
# An image that exists and is not one of ours (no label) is left alone: a real image wins.
# Each stand-in is labelled with a hash of its inputs, so a second run on the same machine skips
# every build whose inputs did not change.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
label=org.invites-api.standin
sources=/etc/apt/sources.list.d/debian.sources
node_prefix="$(node -p 'require("node:path").resolve(process.execPath, "../..")')"
# npm is the machine's own (a JavaScript program); the node it runs on is the one on PATH (.ci/run: 24).
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"

base_recipe="debootstrap --variant=minbase bookworm, v1"

log() { printf '[standins] %s\n' "$*" >&2; }

input_hash() { # the inputs of one stand-in: its Dockerfile, the base's hash, and what it copies in
  { cat "$here/$1"; shift; for x in "$@"; do printf '%s\n' "$x"; done; } | sha256sum | cut -c1-16
}

# 0: up to date; 1: must be built; 2: a real image (not ours) is there and is kept.
state() {
  local current
  if ! current="$(docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null)"; then return 1; fi
  [ "$current" = "$2" ] && return 0
  [ -z "$current" ] || [ "$current" = "<no value>" ] && return 2
  return 1
}

build_base() {
  local tag=debian:bookworm-slim hash
  # The recipe below, versioned by hand: bump base_recipe when it changes.
  hash="$(printf '%s\n' "$base_recipe" "$(cat "$sources")" "$(uname -m)" | sha256sum | cut -c1-16)"
  state "$tag" "$hash" && { log "$tag up to date"; echo "$hash"; return; }
  [ $? -eq 2 ] && { log "$tag: keeping the existing image"; echo real; return; }
  log "building $tag with debootstrap"
  local root mirror
  root="$(mktemp -d /var/tmp/invites-api-standin-XXXXXX)"
  # shellcheck disable=SC2064
  trap "rm -rf '$root'" RETURN
  mirror="$(awk '/^URIs:/ { print $2; exit }' "$sources")" # the machine's own mirror, never written down
  debootstrap --variant=minbase bookworm "$root/fs" "$mirror" >"$root/log" 2>&1 || { tail -20 "$root/log" >&2; return 1; }
  rm -f "$root/fs/etc/apt/sources.list"
  cp "$sources" "$root/fs/etc/apt/sources.list.d/debian.sources"
  chroot "$root/fs" apt-get clean
  rm -rf "$root/fs/var/lib/apt/lists/"*
  tar -C "$root/fs" -c . | docker import -c 'CMD ["bash"]' -c "LABEL $label=$hash" - "$tag" >/dev/null
  echo "$hash"
}

build_on_base() { # TAG DOCKERFILE CONTEXT BASE_HASH [extra hash input]
  local tag=$1 file=$2 context=$3 base=$4 hash
  hash="$(input_hash "$file" "$base" "${5:-}" "$(cat "$here"/files/* 2>/dev/null)")"
  if state "$tag" "$hash"; then log "$tag up to date"; return; fi
  [ $? -eq 2 ] && { log "$tag: keeping the existing image"; return; }
  log "building $tag"
  local out
  out="$(mktemp)"
  if ! docker build -q --label "$label=$hash" -t "$tag" -f "$here/$file" "$context" >"$out" 2>&1; then
    tail -30 "$out" >&2; rm -f "$out"; return 1
  fi
  rm -f "$out"
  log "built $tag"
}

node_context() { # the Node.js on PATH (24 in .ci/run) and npm, as the node image's /usr/local holds them
  local ctx
  ctx="$(mktemp -d /var/tmp/invites-api-standin-node-XXXXXX)"
  mkdir -p "$ctx/usr/local/bin" "$ctx/usr/local/lib/node_modules" "$ctx/usr/local/include" "$ctx/usr/local/etc"
  cp "$node_prefix/bin/node" "$ctx/usr/local/bin/node"
  cp -a "$npm_dir" "$ctx/usr/local/lib/node_modules/npm"
  [ ! -d "$(dirname "$npm_dir")/corepack" ] || cp -a "$(dirname "$npm_dir")/corepack" "$ctx/usr/local/lib/node_modules/"
  cp -a "$node_prefix/include/node" "$ctx/usr/local/include/"
  # Outgoing TLS may be re-signed on these machines: npm in a container trusts what the machine trusts.
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/usr/local/etc/machine-ca.crt"
  printf 'cafile=/usr/local/etc/machine-ca.crt\nnodedir=/usr/local\n' >"$ctx/usr/local/etc/npmrc"
  echo "$ctx"
}

base_hash="$(build_base)"
node_ctx="$(node_context)"
trap 'rm -rf "$node_ctx"' EXIT
pids=()
build_on_base node:24-bookworm-slim node.Dockerfile "$node_ctx" "$base_hash" "$(node --version) $(sha256sum </etc/ssl/certs/ca-certificates.crt)" & pids+=($!)
build_on_base prosodyim/prosody:13.0 prosody.Dockerfile "$here/files" "$base_hash" & pids+=($!)
build_on_base redis:7 redis.Dockerfile "$here/files" "$base_hash" & pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
