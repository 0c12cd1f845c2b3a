import { AppError } from "../errors.js";

/**
 * XMPP failures become these domain errors here, at the boundary; nothing above src/xmpp/ sees a
 * stanza. Each carries what an admin should change, for the log line (never for the client).
 */
export class XmppUnavailableError extends AppError {
  override name = "XmppUnavailableError";
  constructor(message = "not connected to Prosody") {
    super("xmpp_unavailable", message);
  }
}

export class XmppTimeoutError extends AppError {
  override name = "XmppTimeoutError";
  constructor(host: string, timeoutMs: number) {
    super("xmpp_timeout", `Prosody did not answer for ${host} within ${timeoutMs} ms`);
  }
}

export class ProsodyRefusedError extends AppError {
  override name = "ProsodyRefusedError";
  constructor(
    readonly host: string,
    readonly condition: string,
    readonly fix: string,
    /** The error's own text, when Prosody gave one. */
    readonly text = "",
  ) {
    super("prosody_refused", `Prosody refused the invite command for ${host}: ${condition}`);
  }
}

export class ProsodyBadReplyError extends AppError {
  override name = "ProsodyBadReplyError";
  constructor(host: string, what: string) {
    super("prosody_bad_reply", `unreadable reply from ${host}: ${what}`);
  }
}

/** What to change on the Prosody side for each refusal condition seen from mod_invites_adhoc. */
export function fixFor(condition: string, host: string, componentJid: string): string {
  switch (condition) {
    case "forbidden":
    case "not-authorized":
      return (
        `add "${componentJid}" to invites_manage_jids and load "invites_manage" under VirtualHost "${host}" ` +
        `(least privilege), or add it to admins, in prosody.cfg.lua`
      );
    case "item-not-found":
    case "feature-not-implemented":
    case "service-unavailable": // nothing on the host handles ad-hoc commands at all
      return `load "invites_adhoc" (with "adhoc" and "invites") under VirtualHost "${host}"`;
    case "remote-server-not-found":
    case "remote-server-timeout":
    case "host-unknown":
    case "not-allowed": // what Prosody answers for a non-local host when s2s is off
      return `"${host}" is not a VirtualHost of this Prosody: declare it, or fix the key's host`;
    default:
      return `see Prosody's log for the "${condition}" error on ${host}`;
  }
}

/** Stream-level failures of the component connection that no retry will fix. */
export function streamErrorFix(condition: string, componentJid: string): string | undefined {
  switch (condition) {
    case "not-authorized":
      return `COMPONENT_SECRET does not match component_secret of Component "${componentJid}" in prosody.cfg.lua`;
    case "host-unknown":
    case "improper-addressing":
      return `Prosody has no Component "${componentJid}": declare it in prosody.cfg.lua or fix COMPONENT_DOMAIN`;
    case "conflict":
      return `another process is connected as "${componentJid}": give each instance its own component JID`;
    default:
      return undefined;
  }
}
