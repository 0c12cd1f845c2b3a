import type { Context } from "koa";
import { AppError } from "../errors.js";
import { assertPower } from "../keys/powers.js";
import { sourceOfKey } from "../xmpp/inviteManager.js";
import type { KeyInfo, KeyStore } from "../keys/keyStore.js";
import type { Logger } from "../log.js";
import type { EventSink } from "../webhooks/sink.js";
import type { InviteIssuer } from "../xmpp/inviteIssuer.js";
import { boundedTtl, countedInvite } from "./inviteQuota.js";
import { wantsJson } from "./negotiation.js";
import type { ApiKeyState } from "./requireApiKey.js";
import { USERNAME } from "./usernames.js";

type InviteRequest = ({ type: "account" } | { type: "reset"; username: string }) & { ttl?: number };

function single(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new AppError("bad_request", `give the ${name} parameter once`);
  return value;
}

// Whole seconds, at most 100 years; mod_invites_manage applies its own, usually lower, limit.
function ttlParameter(ctx: Context, apiKey: KeyInfo): number | undefined {
  const text = single(ctx, "ttl");
  if (text !== undefined && !/^[1-9]\d{0,9}$/.test(text)) {
    throw new AppError("bad_request", "ttl must be a whole number of seconds");
  }
  return boundedTtl(apiKey, text === undefined ? undefined : Number(text));
}

function inviteRequest(ctx: Context, apiKey: KeyInfo): InviteRequest {
  const type = single(ctx, "type") ?? "account";
  const ttl = ttlParameter(ctx, apiKey);
  if (type === "account") return { type, ttl };
  if (type !== "reset") throw new AppError("bad_request", "type must be account or reset");
  if (ctx.method !== "POST") throw new AppError("bad_request", "a password-reset invite needs POST");
  const username = single(ctx, "username");
  if (!username || !USERNAME.test(username)) throw new AppError("bad_request", "username must be a valid user name");
  return { type, username, ttl };
}

/**
 * 201 with the invite link in Location and an empty body; with any `redirect` parameter, 303 to it
 * (handy in a bookmark), as mod_invites_api answers; JSON when asked for.
 */
export function issueInvite(opts: {
  issuer: InviteIssuer;
  keys: KeyStore;
  log: Logger;
  now: () => Date;
  events?: EventSink;
}) {
  return async function issueInvite(ctx: Context): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    const request = inviteRequest(ctx, apiKey);
    assertPower(apiKey, request.type);
    const options = { ttl: request.ttl, source: sourceOfKey(apiKey.id) };
    const invite = await countedInvite(opts.keys, apiKey, opts.now, () =>
      request.type === "reset"
        ? opts.issuer.createResetInvite(apiKey.host, request.username, options)
        : opts.issuer.createAccountInvite(apiKey.host, options),
    );
    // The audit line: who issued what (for a reset, whose), never the token or the secret.
    const account = request.type === "reset" ? { account: `${request.username}@${apiKey.host}` } : {};
    opts.log.info(
      { audit: "invite", type: request.type, keyId: apiKey.id, host: apiKey.host, expires: invite.expires, ...account },
      "invite issued",
    );
    // The invite's id is its token, the preauth of its xmpp: URI.
    const id = /[?;&]preauth=([A-Za-z0-9_-]+)/.exec(invite.uri)?.[1];
    if (id) {
      await opts.events?.emit("invite.created", {
        host: apiKey.host,
        invite: id,
        key: apiKey.id,
        kind: request.type,
        jid: request.type === "reset" ? `${request.username}@${apiKey.host}` : apiKey.host,
        reusable: false,
        max_uses: null,
        expires: Math.floor(Date.parse(invite.expires) / 1_000),
      });
    }
    ctx.set("Location", invite.url);
    ctx.status = ctx.query.redirect !== undefined ? 303 : 201;
    if (wantsJson(ctx)) ctx.body = { url: invite.url, uri: invite.uri, expires: invite.expires };
    else ctx.body = "";
  };
}
