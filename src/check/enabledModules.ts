import type { InviteOptions } from "../xmpp/inviteManager.js";
import { notLoadedLines, updateManageModule } from "./configLines.js";
import type { Check } from "./report.js";

const NAME = "modules";

/**
 * Whether Prosody loaded every module the host's modules_enabled names, as mod_invites_manage's
 * options say. Prosody starts without a module it fails to load (a missing dependency, say), logs a
 * traceback, and `prosodyctl check` sees no problem.
 */
export function checkEnabledModules(host: string, options: InviteOptions): Check {
  const missing = options.modulesNotLoaded;
  if (!missing) {
    return {
      name: NAME,
      status: "note",
      detail: "not checked: this mod_invites_manage does not say which modules Prosody failed to load",
      fix: updateManageModule(host),
    };
  }
  if (missing.length === 0) return { name: NAME, status: "ok", detail: "every module of modules_enabled is loaded" };
  return {
    name: NAME,
    status: "fail",
    detail: `not loaded: ${missing.join(", ")} (named in modules_enabled, but Prosody failed to load ${missing.length === 1 ? "it" : "them"})`,
    fix: notLoadedLines(host, missing),
  };
}
