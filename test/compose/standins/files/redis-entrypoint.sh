#!/bin/bash
set -e
# As the official image: options alone are options of redis-server; without a config file,
# protected mode is off (the container's network is the boundary); the server runs as redis.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = "redis-server" ]; then
  case "${2:-}" in *.conf) ;; *) set -- "$@" --protected-mode no ;; esac
  if [ "$(id -u)" = "0" ]; then
    chown -R redis: . 2>/dev/null || true
    exec runuser -u redis -- "$@"
  fi
fi
exec "$@"
