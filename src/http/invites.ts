import type { Context } from "koa";
import type { z } from "zod";
import { AppError } from "../errors.js";
import { assertPower } from "../keys/powers.js";
import { sourceOfKey } from "../xmpp/inviteManager.js";
import type { KeyInfo, KeyStore } from "../keys/keyStore.js";
import type { Logger } from "../log.js";
import type { EventSink } from "../webhooks/sink.js";
import type { InviteIssuer } from "../xmpp/inviteIssuer.js";
import { boundedTtl, countedInvite } from "./inviteQuota.js";
import { wantsJson } from "./negotiation.js";
import { auditActor, authorName } from "../people/authors.js";
import { isPerson } from "../people/caller.js";
import { callerOf, groupsFor } from "../people/confinement.js";
import { withinQuota } from "../people/quota.js";
import type { QuotaStore } from "../people/types.js";
import type { DropInInviteJson } from "./apiTypes.js";
import { dropInQuery } from "./wire/requests.js";

type InviteRequest = ({ type: "account" } | { type: "reset"; username: string }) & { ttl?: number };

function single(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new AppError("bad_request", `give the ${name} parameter once`);
  return value;
}

// Each parameter as its schema in wire/requests.ts takes it, with mod_invites_api's messages.
// Absent, given (as the schema reads it), or undefined when the schema refuses it.
function parameter<N extends "type" | "ttl" | "username">(
  ctx: Context,
  name: N,
): { given: false } | { given: true; value: z.output<(typeof dropInQuery.shape)[N]> } | undefined {
  const text = single(ctx, name);
  if (text === undefined) return { given: false };
  const parsed = (dropInQuery.shape[name] as z.ZodType).safeParse(text);
  return parsed.success ? { given: true, value: parsed.data as z.output<(typeof dropInQuery.shape)[N]> } : undefined;
}

// mod_invites_manage applies its own, usually lower, ttl limit.
function ttlParameter(ctx: Context, apiKey: KeyInfo): number | undefined {
  const ttl = parameter(ctx, "ttl");
  if (!ttl) throw new AppError("bad_request", "ttl must be a whole number of seconds");
  return boundedTtl(apiKey, ttl.given ? ttl.value : undefined);
}

function inviteRequest(ctx: Context, apiKey: KeyInfo): InviteRequest {
  const type = parameter(ctx, "type");
  const ttl = ttlParameter(ctx, apiKey);
  if (type?.given === false || type?.value === "account") return { type: "account", ttl };
  if (type?.value !== "reset") throw new AppError("bad_request", "type must be account or reset");
  if (ctx.method !== "POST") throw new AppError("bad_request", "a password-reset invite needs POST");
  const username = parameter(ctx, "username");
  if (!username?.given || !username.value) throw new AppError("bad_request", "username must be a valid user name");
  return { type: "reset", username: username.value, ttl };
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
  quotas?: QuotaStore;
}) {
  return async function issueInvite(ctx: Context): Promise<void> {
    const caller = callerOf(ctx);
    const { apiKey } = caller;
    const request = inviteRequest(ctx, apiKey);
    assertPower(apiKey, request.type);
    // A key confined to one circle gives its invites that circle; to more, it cannot say which here.
    const groups = groupsFor(caller, request.type, undefined);
    const options = { ttl: request.ttl, source: sourceOfKey(apiKey.id), ...(groups ? { groups } : {}) };
    const invite = await withinQuota(opts.quotas, caller.person, opts.now, () =>
      countedInvite(opts.keys, apiKey, opts.now, () =>
        request.type === "reset"
          ? opts.issuer.createResetInvite(apiKey.host, request.username, options)
          : opts.issuer.createAccountInvite(apiKey.host, options),
      ),
    );
    // The audit line: who issued what (for a reset, whose), never the token or the secret.
    const account = request.type === "reset" ? { account: `${request.username}@${apiKey.host}` } : {};
    opts.log.info(
      {
        audit: "invite",
        type: request.type,
        ...auditActor(apiKey),
        host: apiKey.host,
        expires: invite.expires,
        ...account,
      },
      "invite issued",
    );
    // The invite's id is its token, the preauth of its xmpp: URI.
    const id = /[?;&]preauth=([A-Za-z0-9_-]+)/.exec(invite.uri)?.[1];
    if (id) {
      await opts.events?.emit("invite.created", {
        host: apiKey.host,
        invite: id,
        key: isPerson(apiKey) ? null : apiKey.id,
        created_by: authorName(apiKey),
        groups: [...(groups ?? [])],
        kind: request.type,
        jid: request.type === "reset" ? `${request.username}@${apiKey.host}` : apiKey.host,
        reusable: false,
        max_uses: null,
        expires: Math.floor(Date.parse(invite.expires) / 1_000),
        ref: null,
        actor: sourceOfKey(apiKey.id),
      });
    }
    ctx.set("Location", invite.url);
    ctx.status = ctx.query.redirect !== undefined ? 303 : 201;
    const json: DropInInviteJson = { url: invite.url, uri: invite.uri, expires: invite.expires };
    if (wantsJson(ctx)) ctx.body = json;
    else ctx.body = "";
  };
}
