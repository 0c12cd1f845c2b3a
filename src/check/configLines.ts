/** The prosody.cfg.lua lines `invites-api check` asks for, in one place, worded as the README's. */

export const leastPrivilegeLines = (host: string, componentJid: string): string =>
  `under VirtualHost "${host}" in prosody.cfg.lua: add "invites_manage" to modules_enabled and set ` +
  `invites_manage_jids = { "${componentJid}" } (the module is in prosody-config/modules)`;

export const manageJidsLine = (host: string, componentJid: string): string =>
  `under VirtualHost "${host}" in prosody.cfg.lua: invites_manage_jids = { "${componentJid}" }`;

export const invitePageLine = (host: string): string =>
  `for a web page per invite, add "invites_page" to modules_enabled under VirtualHost "${host}"`;

export const updateManageModule = (host: string): string =>
  `update mod_invites_manage for VirtualHost "${host}" from prosody-config/modules and reload it`;
