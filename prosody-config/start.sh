#!/bin/bash
# Runs before the official image's entrypoint when the container starts Prosody:
# 1. Certificates: for each VirtualHost of prosody.cfg.lua, the certificate mounted in
#    /etc/prosody/certs (HOST.crt + HOST.key, or HOST/fullchain.pem + HOST/privkey.pem) is used;
#    without one, a self-signed certificate is made once and kept on the data volume: enough for a
#    local try-out (clients must accept it), never for production.
# 2. Modules: every module the configuration enables must be a core module or installed in the
#    image; otherwise Prosody would start without it, so this stops with a message instead.
set -euo pipefail
config=/etc/prosody/prosody.cfg.lua
mounted=/etc/prosody/certs            # yours, read-only (prosody-config/certs in the checkout)
selfsigned=/var/lib/prosody/self-signed
certs=/var/run/prosody/certs          # what Prosody reads: `certificates` in prosody.cfg.lua

if [ "${1:-}" != "prosody" ]; then exec /entrypoint.sh "$@"; fi

lua5.4 /usr/local/lib/prosody/check-modules.lua "$config"

rm -rf "$certs"
install -d -m 750 "$certs"
for host in $(sed -n 's/^[[:space:]]*VirtualHost[[:space:]]*"\([^"]*\)".*/\1/p' "$config"); do
  if [ -f "$mounted/$host.crt" ] && [ -f "$mounted/$host.key" ]; then
    cp -L "$mounted/$host.crt" "$mounted/$host.key" "$certs/"
    echo "certificate for $host: $mounted/$host.crt"
  elif [ -f "$mounted/$host/fullchain.pem" ] && [ -f "$mounted/$host/privkey.pem" ]; then
    cp -L "$mounted/$host/fullchain.pem" "$certs/$host.crt"
    cp -L "$mounted/$host/privkey.pem" "$certs/$host.key"
    echo "certificate for $host: $mounted/$host/fullchain.pem"
  else
    if [ ! -f "$selfsigned/$host.crt" ]; then
      install -d -m 750 "$selfsigned"
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$host" \
        -addext "subjectAltName=DNS:$host" \
        -keyout "$selfsigned/$host.key" -out "$selfsigned/$host.crt" 2>/dev/null
    fi
    cp "$selfsigned/$host.crt" "$selfsigned/$host.key" "$certs/"
    echo "WARNING: no certificate for $host in $mounted: using a self-signed one (local try-out only; see the README)" >&2
  fi
done
owner="$(stat -c %u /var/lib/prosody/)" # the official entrypoint runs Prosody as this uid
chown -R "$owner" "$certs"
chmod 640 "$certs"/*.key
exec /entrypoint.sh "$@"
