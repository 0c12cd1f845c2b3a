#!/usr/bin/env bash
# Runs a command with Prosody 13 as the test Prosody: fetches Prosody 13 from Debian's
# bookworm-backports suite once (as the reference describes), unpacks it beside the installed 0.12
# and points the test harness at it through PROSODY_BIN, PROSODYCTL_BIN and PROSODY_PLUGIN_PATH.
set -euo pipefail
D="${PROSODY13_DIR:-/var/tmp/invites-api-prosody13}"

if [ ! -x "$D/root/usr/bin/prosody" ]; then
  mkdir -p "$D/lists/partial" "$D/root"
  # An apt source for backports, derived from the machine's own first Debian entry: no mirror is named here.
  awk 'BEGIN{RS="";ORS="\n\n"} NR==1' /etc/apt/sources.list.d/debian.sources \
    | sed 's/^Suites: .*/Suites: bookworm-backports/' > "$D/bp.sources"
  O=(-o "Dir::Etc::sourcelist=$D/bp.sources" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$D/lists")
  apt-get "${O[@]}" update -q >&2
  (cd "$D" && apt-get "${O[@]}" download prosody/bookworm-backports >&2)
  dpkg-deb -x "$D"/prosody_13*.deb "$D/root"
  # Point the launchers at their own tree, not at the installed 0.12.
  sed -i "s|'/usr/lib/prosody|'$D/root/usr/lib/prosody|" "$D/root/usr/bin/prosody" "$D/root/usr/bin/prosodyctl"
fi

# Prosody 13 must not see Debian's 0.12 core modules: give it only the community modules it needs.
mkdir -p "$D/community"
for m in mod_invites_page mod_register_apps mod_invites_api; do
  ln -sfn "/usr/lib/prosody/modules/$m" "$D/community/$m"
done
chmod -R a+rX "$D"

export PROSODY_BIN="lua5.4 $D/root/usr/bin/prosody"
export PROSODYCTL_BIN="lua5.4 $D/root/usr/bin/prosodyctl"
export PROSODY_PLUGIN_PATH="$D/community"
export PROSODY_VERSION=13
exec "$@"
