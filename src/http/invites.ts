import type { Context } from "koa";
import { AppError } from "../errors.js";
import type { KeyStore } from "../keys/keyStore.js";
import type { Logger } from "../log.js";
import type { InviteIssuer } from "../xmpp/inviteIssuer.js";
import type { ApiKeyState } from "./requireApiKey.js";

/**
 * 201 with the invite link in Location and an empty body; with any `redirect` parameter, 303 to it
 * (handy in a bookmark), as mod_invites_api answers. The invite is counted against the key before
 * Prosody is asked, and given back if Prosody fails.
 */
export function issueInvite(opts: { issuer: InviteIssuer; keys: KeyStore; log: Logger; now: () => Date }) {
  return async function issueInvite(ctx: Context): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    const reserved = await opts.keys.reserveInvite(apiKey.id, opts.now());
    if (reserved === "exhausted") throw new AppError("key_exhausted", `key ${apiKey.id} reached its max-invites`);
    if (reserved === "gone") throw new AppError("invalid_key", `key ${apiKey.id} was deleted`);
    let invite;
    try {
      invite = await opts.issuer.createAccountInvite(apiKey.host);
    } catch (err) {
      await opts.keys.releaseInvite(apiKey.id).catch(() => undefined);
      throw err;
    }
    // The audit line: who issued what, never the token or the secret.
    opts.log.info({ audit: "invite", keyId: apiKey.id, host: apiKey.host, expires: invite.expires }, "invite issued");
    ctx.set("Location", invite.url);
    ctx.status = ctx.query.redirect !== undefined ? 303 : 201;
    ctx.body = "";
  };
}
