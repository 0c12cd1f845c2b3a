#!/usr/bin/env bash
# Test-only: builds a LuaRocks server folder, OUT/rocks, holding the community modules the
# deployment installs, from Debian's prosody-modules package (bookworm-backports: it has all four),
# because these machines cannot reach modules.prosody.im. Kept between runs.
set -euo pipefail
out="$1"
here="$(cd "$(dirname "$0")" && pwd)"
modules=(mod_invites_page mod_invites_register_web mod_password_policy mod_register_apps)
stamp="$(printf '%s\n' "${modules[@]}" | cat - "$here/make-rocks.sh" | sha256sum | cut -c1-16)"
[ -f "$out/rocks/.stamp" ] && [ "$(cat "$out/rocks/.stamp")" = "$stamp" ] && exit 0

mkdir -p "$out/lists/partial" "$out/deb"
# An apt source for backports, derived from the machine's own first Debian entry.
awk 'BEGIN{RS="";ORS="\n\n"} NR==1' /etc/apt/sources.list.d/debian.sources \
  | sed 's/^Suites: .*/Suites: bookworm-backports/' >"$out/bp.sources"
O=(-o "Dir::Etc::sourcelist=$out/bp.sources" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$out/lists")
if ! ls "$out"/deb/prosody-modules_*.deb >/dev/null 2>&1; then
  apt-get "${O[@]}" update -q >&2
  (cd "$out/deb" && apt-get "${O[@]}" download prosody-modules/bookworm-backports >&2)
fi
rm -rf "$out/pkg" "$out/modules" "$out/rocks"
dpkg-deb -x "$out"/deb/prosody-modules_*.deb "$out/pkg"
mkdir -p "$out/modules" "$out/rocks"
for m in "${modules[@]}"; do cp -a "$out/pkg/usr/lib/prosody/modules/$m" "$out/modules/"; done
docker run --rm --network none --entrypoint bash -v "$out/modules:/modules:ro" -v "$out/rocks:/rocks" \
  -v "$here/make-rocks.sh:/make-rocks.sh:ro" prosodyim/prosody:13.0 /make-rocks.sh >&2
echo "$stamp" >"$out/rocks/.stamp"
