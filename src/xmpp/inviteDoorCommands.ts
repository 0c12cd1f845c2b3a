// XEP-0401: Easy User Onboarding, the invite page's door: mod_invites_manage's landing, name and
// redeem commands (XEP-0050, forms of XEP-0004). Everything a visitor typed is checked here before
// it reaches the stream; the password is never logged nor put in an error message.
import ipaddr from "ipaddr.js";
import { AppError, type ErrorCode } from "../errors.js";
import { executeCommand, type AdhocContext, type HostCommands } from "./adhoc.js";
import { assertXmlText, readFormValues, submitForm } from "./dataForm.js";
import { ProsodyBadReplyError, ProsodyRefusedError } from "./errors.js";
import {
  LANDING_STATES,
  type InviteDoor,
  type InviteLanding,
  type LandingState,
  type NameCheck,
} from "./inviteDoor.js";
import { MANAGE_NODES, notLoaded } from "./inviteManager.js";

// mod_invites' tokens are base64url (16 characters today; one may begin with "-").
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
// A JID's localpart and a password, as Prosody takes them: at most 1023 bytes.
const MAX_BYTES = 1023;
const NAME_CHECKS: readonly NameCheck[] = ["free", "taken", "invalid"];

const one = (values: Map<string, string[]>, name: string): string | undefined => values.get(name)?.[0] || undefined;
const bytes = (text: string) => Buffer.byteLength(text, "utf8");

/** A malformed token names no invite: the page answers it as an unknown one. */
function checkToken(host: string, token: string): void {
  if (!TOKEN.test(token)) throw new AppError("invite_not_found", `no invite with this token on ${host}`);
}

/** The password as the stream may carry it; the error says which rule failed, never the password. */
function checkPassword(password: string): void {
  if (bytes(password) > MAX_BYTES) throw new AppError("bad_request", `password must be at most ${MAX_BYTES} bytes`);
  try {
    assertXmlText("password", password);
  } catch {
    throw new AppError("bad_request", "password holds a character XML does not allow");
  }
}

/**
 * The client's address as Prosody's hooks expect it (an IPv4-mapped IPv6 one as IPv4); undefined
 * when not one. IPv4 in its four-part form only: ipaddr.isValid also takes "1.2.3" and "0x7f.1".
 */
function clientAddress(ip: string | undefined): string | undefined {
  if (ip === undefined || !(ipaddr.IPv4.isValidFourPartDecimal(ip) || ipaddr.IPv6.isValid(ip))) return undefined;
  return ipaddr.process(ip).toString();
}

/** The module's refusals, by XMPP condition, as the page's errors; any other stays Prosody's. */
const DOOR_ERRORS: Readonly<Record<string, ErrorCode>> = {
  "item-not-found": "invite_not_found",
  gone: "invite_gone",
  conflict: "user_exists",
  "bad-request": "bad_request",
  "not-acceptable": "bad_request",
  "not-allowed": "account_protected",
  "feature-not-implemented": "not_implemented",
  // The host's pause and registration budget (mod_invites_manage's budget.lib.lua), its text saying which.
  "policy-violation": "registrations_closed",
};

/** A used-up budget says until when ("… until 2026-12-07T00:00:00Z"): the client may retry then. */
function retryAfter(text: string): { retryAfterSeconds?: number } {
  const until = Date.parse(/until (\S+)$/.exec(text)?.[1] ?? "");
  return Number.isFinite(until) ? { retryAfterSeconds: Math.max(1, Math.ceil((until - Date.now()) / 1_000)) } : {};
}

function doorError(err: unknown, host: string): unknown {
  const code = err instanceof ProsodyRefusedError ? DOOR_ERRORS[err.condition] : undefined;
  if (!code || !(err instanceof ProsodyRefusedError)) return err;
  const text = err.text || err.condition;
  if (code === "invite_not_found") return new AppError(code, `no invite with this token on ${host}`);
  if (code === "registrations_closed") return new AppError(code, text, retryAfter(text));
  return new AppError(code, code === "not_implemented" ? `${host}: ${text}` : text);
}

function landingFrom(values: Map<string, string[]>, host: string): InviteLanding {
  const state = one(values, "state");
  const kind = one(values, "kind");
  const expires = Number(one(values, "expires"));
  if (!(LANDING_STATES as readonly string[]).includes(state ?? "") || (kind !== "account" && kind !== "reset")) {
    throw new ProsodyBadReplyError(host, "an invite's landing without its state or kind");
  }
  if (!Number.isFinite(expires)) throw new ProsodyBadReplyError(host, "an invite's landing without expires");
  const usesLeft = Number(one(values, "uses-left"));
  const optional = (name: string, key: string) => (one(values, name) ? { [key]: one(values, name) } : {});
  return {
    host,
    state: state as LandingState,
    kind,
    ...optional("username", "username"),
    ...optional("inviter", "inviter"),
    groups: (values.get("groups") ?? []).filter(Boolean),
    ...optional("uri", "uri"),
    expires,
    ...(one(values, "uses-left") !== undefined && Number.isInteger(usesLeft) && usesLeft >= 0 ? { usesLeft } : {}),
    ...(one(values, "paused") === "true" ? { paused: true } : {}),
  };
}

export function createInviteDoor(adhoc: AdhocContext, commands: HostCommands): InviteDoor {
  async function run(host: string, node: string, fields: Record<string, string | undefined>) {
    const nodes = await commands(host);
    if (!nodes.includes(node)) {
      if (!nodes.includes(MANAGE_NODES.createAccount)) throw notLoaded(host);
      throw new AppError(
        "not_implemented",
        `update mod_invites_manage under VirtualHost "${host}": it has no invite page commands`,
      );
    }
    try {
      const values = readFormValues(await executeCommand(adhoc, host, node, { form: submitForm(fields) }));
      if (!values) throw new ProsodyBadReplyError(host, "no result form");
      return values;
    } catch (err) {
      throw doorError(err, host);
    }
  }

  return {
    landing: async (host, token) => {
      checkToken(host, token);
      return landingFrom(await run(host, MANAGE_NODES.landing, { token }), host);
    },

    checkName: async (host, token, username) => {
      checkToken(host, token);
      if (username === "" || bytes(username) > MAX_BYTES) return "invalid";
      // A name XML cannot carry is no name Prosody would take.
      try {
        assertXmlText("username", username);
      } catch {
        return "invalid";
      }
      const answer = one(await run(host, MANAGE_NODES.checkName, { token, username }), "availability");
      if (!NAME_CHECKS.includes(answer as NameCheck))
        throw new ProsodyBadReplyError(host, "no availability of the name");
      return answer as NameCheck;
    },

    redeem: async (host, token, { username, password, ip }) => {
      checkToken(host, token);
      if (username !== undefined && bytes(username) > MAX_BYTES) {
        throw new AppError("bad_request", `username must be at most ${MAX_BYTES} bytes`);
      }
      checkPassword(password);
      const fields = { token, username: username || undefined, password, ip: clientAddress(ip) };
      const jid = one(await run(host, MANAGE_NODES.redeem, fields), "jid");
      if (!jid) throw new ProsodyBadReplyError(host, "no account in the answer");
      return { jid };
    },
  };
}
