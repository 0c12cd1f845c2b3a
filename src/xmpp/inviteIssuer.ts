// XEP-0401: Easy User Onboarding, through mod_invites_adhoc's create-account command.
import type { Logger } from "../log.js";
import { executeCommand, type AdhocContext } from "./adhoc.js";
import { readFormFields } from "./dataForm.js";
import { ProsodyBadReplyError, ProsodyRefusedError } from "./errors.js";

export const NODE_CREATE_ACCOUNT = "urn:xmpp:invite#create-account";

export interface Invite {
  /** What a person opens: the landing page when the host serves one, else the xmpp: URI. */
  readonly url: string;
  readonly uri: string;
  /** ISO 8601 UTC, as Prosody sends it; "" when Prosody does not say. */
  readonly expires: string;
}

export interface InviteIssuer {
  createAccountInvite(host: string): Promise<Invite>;
}

export function createInviteIssuer(ctx: AdhocContext, log: Logger): InviteIssuer {
  return {
    async createAccountInvite(host) {
      log.debug({ host }, "creating invite");
      try {
        const command = await executeCommand(ctx, host, NODE_CREATE_ACCOUNT);
        const fields = readFormFields(command);
        if (!fields) throw new ProsodyBadReplyError(host, "no data form in the completed command");
        const uri = fields.get("uri") ?? "";
        const url = fields.get("landing-url") || uri;
        if (!url) throw new ProsodyBadReplyError(host, "the form has neither landing-url nor uri");
        return { url, uri, expires: fields.get("expire") ?? "" };
      } catch (err) {
        if (err instanceof ProsodyRefusedError) {
          log.error({ host, condition: err.condition, fix: err.fix }, "Prosody refused to create an invite");
        }
        throw err;
      }
    },
  };
}
