// XEP-0401: Easy User Onboarding, through mod_invites_adhoc's commands.
import { xml, type Element } from "@xmpp/component";
import { AppError } from "../errors.js";
import type { Logger } from "../log.js";
import { executeCommand, submitCommand, type AdhocContext, type HostCommands } from "./adhoc.js";
import { NS_DATA, readFormFields } from "./dataForm.js";
import { ProsodyBadReplyError, ProsodyRefusedError, fixFor } from "./errors.js";
import { notLoaded, type InviteManager, type ManagedInvite } from "./inviteManager.js";

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

/** Asked of /invites_api: a ttl needs mod_invites_manage; `source` names the key for its records. */
export interface InviteOptions {
  readonly ttl?: number;
  readonly source: string;
}

/**
 * The invites of /invites_api. Where the host runs mod_invites_manage they are made there (the
 * component need not be an admin); otherwise with mod_invites_adhoc's commands, as mod_invites_api does.
 */
export interface InviteIssuer {
  createAccountInvite(host: string, options: InviteOptions): Promise<Invite>;
  /** Throws `not_implemented` where the host has neither mod_invites_manage nor Prosody 13's command. */
  createResetInvite(host: string, username: string, options: InviteOptions): Promise<Invite>;
}

// Prosody's own form of a time (as mod_invites_adhoc sends it): UTC, whole seconds.
const isoSeconds = (unixSeconds: number): string => new Date(unixSeconds * 1_000).toISOString().replace(".000Z", "Z");

const fromManaged = (invite: ManagedInvite): Invite => ({
  url: invite.landingPage ?? invite.uri,
  uri: invite.uri,
  expires: isoSeconds(invite.expires),
});

function inviteFrom(command: Element, host: string): Invite {
  const fields = readFormFields(command);
  if (!fields) throw new ProsodyBadReplyError(host, "no data form in the completed command");
  const uri = fields.get("uri") ?? "";
  const url = fields.get("landing-url") || uri;
  if (!url) throw new ProsodyBadReplyError(host, "the form has neither landing-url nor uri");
  return { url, uri, expires: fields.get("expire") ?? "" };
}

export function createInviteIssuer(
  ctx: AdhocContext,
  log: Logger,
  manager: InviteManager,
  commands: HostCommands,
): InviteIssuer {
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
    createAccountInvite(host, { ttl, source }) {
      log.debug({ host }, "creating invite");
      return logged(host, async () => {
        if (await manager.available(host)) return fromManaged(await manager.createAccount(host, { ttl, source }));
        if (ttl !== undefined) throw notLoaded(host);
        return inviteFrom(await executeCommand(ctx, host, NODE_CREATE_ACCOUNT), host);
      });
    },

    createResetInvite(host, username, { ttl, source }) {
      log.debug({ host }, "creating password-reset invite");
      return logged(host, async () => {
        if (await manager.available(host))
          return fromManaged(await manager.createReset(host, { username, ttl, source }));
        if (ttl !== undefined) throw notLoaded(host);
        // Prosody 0.12 lists no such command: say what is missing rather than fail obscurely.
        const offered = await commands(host);
        if (!offered.includes(NODE_PASSWORD_RESET)) {
          if (!offered.includes(NODE_CREATE_ACCOUNT)) {
            throw new ProsodyRefusedError(host, "item-not-found", fixFor("item-not-found", host, ctx.componentJid));
          }
          throw new AppError(
            "not_implemented",
            `${host} has no password-reset command: load "invites_manage" under its VirtualHost, or run Prosody 13`,
          );
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
