#!/bin/bash
# Behaves as the official image's entrypoint: the prosody user takes the uid that owns the data
# folder; `prosody …` runs as that user; any other command goes to prosodyctl, as root.
set -e
owner="$(stat -c %u /var/lib/prosody/)"
[ "$(id -u prosody)" = "$owner" ] || usermod -u "$owner" prosody
[ "$(stat -c %u /var/run/prosody/)" = "$owner" ] || chown "$owner" /var/run/prosody/
if [ "$1" != "prosody" ]; then
  exec prosodyctl "$@"
fi
if [ -n "$LOCAL" ] && [ -n "$PASSWORD" ] && [ -n "$DOMAIN" ]; then
  prosodyctl register "$LOCAL" "$DOMAIN" "$PASSWORD"
fi
exec runuser -u prosody -- "$@"
