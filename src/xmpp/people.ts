// Who an account is, for people's sign-in (issue 29): mod_invites_manage's person command
// (XEP-0050, forms of XEP-0004), which answers whether a bare JID of the host has an account, whether
// it is enabled (Prosody 13) and its role, and nothing more.
import { AppError } from "../errors.js";
import type { PersonFacts, PersonLookup } from "../people/types.js";
import { executeCommand, type AdhocContext, type HostCommands } from "./adhoc.js";
import { readFormValues, submitForm } from "./dataForm.js";
import { ProsodyBadReplyError, ProsodyRefusedError } from "./errors.js";
import { MANAGE_NODES, notLoaded } from "./inviteManager.js";

// A bare JID: a localpart, one "@", a domain; no resource. Prosody preps and judges the rest.
const BARE_JID = /^([^@/\s]+)@([^@/\s]+)$/;
const MAX_JID_BYTES = 3071;

const one = (values: Map<string, string[]>, name: string): string | undefined => values.get(name)?.[0] || undefined;

function booleanOf(values: Map<string, string[]>, name: string, host: string): boolean {
  const value = one(values, name);
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new ProsodyBadReplyError(host, `a person without ${name}`);
}

/** A JID that is no bare JID of `host` is the caller's mistake, never sent to Prosody. */
function checkJid(host: string, jid: string): void {
  const domain = BARE_JID.exec(jid)?.[2];
  if (domain?.toLowerCase() !== host.toLowerCase() || Buffer.byteLength(jid, "utf8") > MAX_JID_BYTES) {
    throw new AppError("bad_request", `not a bare JID of ${host}`);
  }
}

export function createPersonLookup(adhoc: AdhocContext, commands: HostCommands): PersonLookup {
  return {
    async person(host, jid): Promise<PersonFacts> {
      checkJid(host, jid);
      const nodes = await commands(host);
      if (!nodes.includes(MANAGE_NODES.person)) {
        if (!nodes.includes(MANAGE_NODES.createAccount)) throw notLoaded(host);
        throw new AppError(
          "not_implemented",
          `update mod_invites_manage under VirtualHost "${host}": it has no person command`,
        );
      }
      let values: Map<string, string[]> | undefined;
      try {
        values = readFormValues(await executeCommand(adhoc, host, MANAGE_NODES.person, { form: submitForm({ jid }) }));
      } catch (err) {
        // The module's refusal of the JID (a localpart nodeprep refuses, say); the rest stay Prosody's.
        if (err instanceof ProsodyRefusedError && err.condition === "bad-request") {
          throw new AppError("bad_request", err.text || `not a bare JID of ${host}`);
        }
        throw err;
      }
      if (!values) throw new ProsodyBadReplyError(host, "no result form for the person");
      const exists = booleanOf(values, "exists", host);
      const prepped = one(values, "jid");
      // The module's prepped form of the same account: its host, and only that host.
      if (prepped !== undefined && BARE_JID.exec(prepped)?.[2] !== host.toLowerCase()) {
        throw new ProsodyBadReplyError(host, "a person's JID of another host");
      }
      return {
        ...(prepped ? { jid: prepped } : {}),
        exists,
        enabled: exists && booleanOf(values, "enabled", host),
        role: (exists && one(values, "role")) || "",
      };
    },
  };
}
