import type { Context } from "koa";
import { AppError } from "../errors.js";
import type { InviteIssuer } from "../xmpp/inviteIssuer.js";
import type { ApiKeyState } from "./requireApiKey.js";

/**
 * 201 with the invite link in Location and an empty body; with any `redirect` parameter, 303 to it
 * (handy in a bookmark), as mod_invites_api answers.
 */
export function issueInvite(opts: { issuer: InviteIssuer }) {
  return async function issueInvite(ctx: Context): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    // @koa/router answers HEAD with the GET handler; a HEAD must never create an invite.
    const method = ctx.method === "HEAD" ? undefined : ctx.method;
    if (!apiKey.methods.some((allowed) => allowed === method)) {
      throw new AppError("method_not_allowed", `key ${apiKey.id} does not allow ${ctx.method}`);
    }
    const invite = await opts.issuer.createAccountInvite(apiKey.host);
    ctx.set("Location", invite.url);
    ctx.status = ctx.query.redirect !== undefined ? 303 : 201;
    ctx.body = "";
  };
}
