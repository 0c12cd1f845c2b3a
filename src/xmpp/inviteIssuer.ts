// XEP-0401: Easy User Onboarding, through mod_invites_adhoc's commands.
import { xml, type Element } from "@xmpp/component";
import { AppError } from "../errors.js";
import type { Logger } from "../log.js";
import { executeCommand, listCommands, submitCommand, type AdhocContext } from "./adhoc.js";
import { NS_DATA, readFormFields } from "./dataForm.js";
import { ProsodyBadReplyError, ProsodyRefusedError, fixFor } from "./errors.js";

export const NODE_CREATE_ACCOUNT = "urn:xmpp:invite#create-account";
// Prosody 13 only: an invite that lets an existing user set a new password.
export const NODE_PASSWORD_RESET = "xmpp:prosody.im/mod_invites_adhoc#password-reset";

export interface Invite {
  /** What a person opens: the landing page when the host serves one, else the xmpp: URI. */
  readonly url: string;
  readonly uri: string;
  /** ISO 8601 UTC, as Prosody sends it; "" when Prosody does not say. */
  readonly expires: string;
}

export interface InviteIssuer {
  createAccountInvite(host: string): Promise<Invite>;
  /** Throws `not_implemented` where Prosody lacks the command (before 13). */
  createResetInvite(host: string, username: string): Promise<Invite>;
}

function inviteFrom(command: Element, host: string): Invite {
  const fields = readFormFields(command);
  if (!fields) throw new ProsodyBadReplyError(host, "no data form in the completed command");
  const uri = fields.get("uri") ?? "";
  const url = fields.get("landing-url") || uri;
  if (!url) throw new ProsodyBadReplyError(host, "the form has neither landing-url nor uri");
  return { url, uri, expires: fields.get("expire") ?? "" };
}

export function createInviteIssuer(ctx: AdhocContext, log: Logger): InviteIssuer {
  async function logged<T>(host: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof ProsodyRefusedError) {
        log.error({ host, condition: err.condition, fix: err.fix }, "Prosody refused to create an invite");
      }
      throw err;
    }
  }

  return {
    createAccountInvite(host) {
      log.debug({ host }, "creating invite");
      return logged(host, async () => inviteFrom(await executeCommand(ctx, host, NODE_CREATE_ACCOUNT), host));
    },

    createResetInvite(host, username) {
      log.debug({ host }, "creating password-reset invite");
      return logged(host, async () => {
        // Prosody 0.12 lists no such command: say what is missing rather than fail obscurely.
        const commands = await listCommands(ctx, host);
        if (!commands.includes(NODE_PASSWORD_RESET)) {
          if (!commands.includes(NODE_CREATE_ACCOUNT)) {
            throw new ProsodyRefusedError(host, "item-not-found", fixFor("item-not-found", host, ctx.componentJid));
          }
          throw new AppError("not_implemented", `${host} has no password-reset command (Prosody before 13)`);
        }
        const form = await executeCommand(ctx, host, NODE_PASSWORD_RESET, { expect: "executing" });
        const answer = xml(
          "x",
          { xmlns: NS_DATA, type: "submit" },
          xml("field", { var: "accountjid" }, xml("value", {}, `${username}@${host}`)),
        );
        return inviteFrom(
          await submitCommand(ctx, host, NODE_PASSWORD_RESET, form.attrs.sessionid ?? "", answer),
          host,
        );
      });
    },
  };
}
