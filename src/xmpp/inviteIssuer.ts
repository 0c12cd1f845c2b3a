// XEP-0401: Easy User Onboarding, through mod_invites_adhoc's commands.
import type { Element } from "@xmpp/component";
import { AppError } from "../errors.js";
import type { Logger } from "../log.js";
import { executeCommand, type AdhocContext } from "./adhoc.js";
import { readFormFields } from "./dataForm.js";
import { ProsodyBadReplyError, ProsodyRefusedError } from "./errors.js";
import { notLoaded, type InviteManager, type ManagedInvite } from "./inviteManager.js";

export const NODE_CREATE_ACCOUNT = "urn:xmpp:invite#create-account";

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
  /** An account invite's groups (a key confined to one circle): needs mod_invites_manage. */
  readonly groups?: readonly string[];
}

/**
 * The invites of /invites_api. Where the host runs mod_invites_manage they are made there (the
 * component need not be an admin); otherwise with mod_invites_adhoc's commands, as mod_invites_api does.
 */
export interface InviteIssuer {
  createAccountInvite(host: string, options: InviteOptions): Promise<Invite>;
  /** Throws `not_implemented` where the host lacks mod_invites_manage. */
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

export function createInviteIssuer(ctx: AdhocContext, log: Logger, manager: InviteManager): InviteIssuer {
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
    createAccountInvite(host, { ttl, source, groups }) {
      log.debug({ host }, "creating invite");
      return logged(host, async () => {
        if (await manager.available(host)) {
          return fromManaged(await manager.createAccount(host, { ttl, source, ...(groups ? { groups } : {}) }));
        }
        if (ttl !== undefined || groups !== undefined) throw notLoaded(host);
        return inviteFrom(await executeCommand(ctx, host, NODE_CREATE_ACCOUNT), host);
      });
    },

    createResetInvite(host, username, { ttl, source }) {
      log.debug({ host }, "creating password-reset invite");
      return logged(host, async () => {
        // Never through mod_invites_adhoc's admin command (Prosody 13): the component would be an
        // admin there, able to reset an admin's password. mod_invites_manage checks the account.
        if (!(await manager.available(host))) {
          throw new AppError(
            "not_implemented",
            `password resets need mod_invites_manage: load "invites_manage" under VirtualHost "${host}"`,
          );
        }
        return fromManaged(await manager.createReset(host, { username, ttl, source }));
      });
    },
  };
}
