/** The prosody.cfg.lua lines `invites-api check` asks for, in one place, worded as docs/prosody.md's. */

export const leastPrivilegeLines = (host: string, componentJid: string): string =>
  `under VirtualHost "${host}" in prosody.cfg.lua: add "invites_manage" to modules_enabled and set ` +
  `invites_manage_jids = { "${componentJid}" } (the module is in prosody-config/modules)`;

export const manageJidsLine = (host: string, componentJid: string): string =>
  `under VirtualHost "${host}" in prosody.cfg.lua: invites_manage_jids = { "${componentJid}" }`;

export const invitePageLine = (host: string): string =>
  `for a web page per invite, add "invites_page" to modules_enabled under VirtualHost "${host}"`;

export const updateManageModule = (host: string): string =>
  `update mod_invites_manage for VirtualHost "${host}" from prosody-config/modules and reload it`;

// Why a module may fail to load where it is known: Debian 12's prosody-modules (2023-02) lacks a dependency.
const NEEDS: Readonly<Record<string, string>> = {
  invites_register_web:
    "invites_register_web needs mod_password_policy, which Debian 12's prosody-modules lacks: it comes with " +
    "Prosody 13 and the prosody-modules of bookworm-backports (whose mod_password_policy also runs on 0.12, " +
    "copied into plugin_paths)",
};

export const notLoadedLines = (host: string, modules: readonly string[]): string =>
  [
    `under VirtualHost "${host}" in prosody.cfg.lua (or in the global section, where it is listed): remove ` +
      `${modules.map((name) => `"${name}"`).join(", ")} from modules_enabled, or install what ` +
      `${modules.length === 1 ? "it needs" : "each needs"} and restart Prosody; Prosody's log says why at start ` +
      `("Error initializing module" or "Unable to load module")`,
    ...modules.flatMap((name) => NEEDS[name] ?? []),
  ].join("; ");
