#!/bin/bash
# Runs inside the prosodyim/prosody:13.0 image (it has luarocks): turns the module folders under
# /modules (from Debian's prosody-modules package) into a LuaRocks server in /rocks, standing in
# for modules.prosody.im/rocks/ in the compose test. Each rock installs its module's whole folder
# where Prosody looks for installed modules (share/lua/5.4/mod_NAME/).
set -euo pipefail
cd /rocks
for dir in /modules/mod_*; do
  m="$(basename "$dir")"
  tar -C /modules -czf "/tmp/$m.tar.gz" "$m"
  cat >"/tmp/$m-0.1-1.rockspec" <<SPEC
package = "$m"
version = "0.1-1"
source = { url = "file:///tmp/$m.tar.gz", dir = "$m" }
description = { summary = "$m (test stand-in from Debian's prosody-modules)", license = "MIT" }
dependencies = {}
build = { type = "command", install_command = "mkdir -p \$(LUADIR)/$m && cp -R . \$(LUADIR)/$m/" }
SPEC
  (cd /tmp && luarocks --lua-version=5.4 pack "/tmp/$m-0.1-1.rockspec" >/dev/null)
  mv "/tmp/$m-0.1-1.src.rock" /rocks/
done
luarocks-admin --lua-version=5.4 make-manifest /rocks >/dev/null
ls /rocks
