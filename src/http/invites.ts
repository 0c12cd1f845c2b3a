import type { Context } from "koa";
import { AppError } from "../errors.js";
import type { KeyStore } from "../keys/keyStore.js";
import type { Logger } from "../log.js";
import type { Invite, InviteIssuer } from "../xmpp/inviteIssuer.js";
import { wantsJson } from "./negotiation.js";
import type { ApiKeyState } from "./requireApiKey.js";

type InviteRequest = { type: "account" } | { type: "reset"; username: string };

// A localpart as Prosody's nodeprep would keep it, roughly: no JID separators, spaces or controls.
const USERNAME = /^[^\s@/"&'<>:\p{Cc}]{1,1023}$/u;

function single(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new AppError("bad_request", `give the ${name} parameter once`);
  return value;
}

function inviteRequest(ctx: Context): InviteRequest {
  const type = single(ctx, "type") ?? "account";
  if (type === "account") return { type };
  if (type !== "reset") throw new AppError("bad_request", "type must be account or reset");
  if (ctx.method !== "POST") throw new AppError("bad_request", "a password-reset invite needs POST");
  const username = single(ctx, "username");
  if (!username || !USERNAME.test(username)) throw new AppError("bad_request", "username must be a valid user name");
  return { type, username };
}

/**
 * 201 with the invite link in Location and an empty body; with any `redirect` parameter, 303 to it
 * (handy in a bookmark), as mod_invites_api answers; JSON when asked for.
 */
export function issueInvite(opts: { issuer: InviteIssuer; keys: KeyStore; log: Logger; now: () => Date }) {
  return async function issueInvite(ctx: Context): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    const request = inviteRequest(ctx);
    // A quota is counted before Prosody is asked, so that concurrent requests cannot overrun it;
    // other keys' usage is counted after, in batches.
    const quota = apiKey.maxInvites !== undefined;
    if (apiKey.maxInvites !== undefined) {
      const reserved = await opts.keys.reserveInvite(apiKey.id, apiKey.maxInvites, opts.now());
      if (reserved === "exhausted") throw new AppError("key_exhausted", `key ${apiKey.id} reached its max-invites`);
      if (reserved === "gone") throw new AppError("invalid_key", `key ${apiKey.id} was deleted`);
    }
    let invite: Invite;
    try {
      invite =
        request.type === "reset"
          ? await opts.issuer.createResetInvite(apiKey.host, request.username)
          : await opts.issuer.createAccountInvite(apiKey.host);
    } catch (err) {
      if (quota) await opts.keys.releaseInvite(apiKey.id).catch(() => undefined);
      throw err;
    }
    if (!quota) opts.keys.recordInvite(apiKey.id, opts.now());
    // The audit line: who issued what, never the token or the secret.
    opts.log.info(
      { audit: "invite", type: request.type, keyId: apiKey.id, host: apiKey.host, expires: invite.expires },
      "invite issued",
    );
    ctx.set("Location", invite.url);
    ctx.status = ctx.query.redirect !== undefined ? 303 : 201;
    if (wantsJson(ctx)) ctx.body = { url: invite.url, uri: invite.uri, expires: invite.expires };
    else ctx.body = "";
  };
}
