import type { Context } from "koa";
import type { z } from "zod";
import { AppError } from "../errors.js";
import { assertPower } from "../keys/powers.js";
import type { KeyInfo, KeyStore } from "../keys/keyStore.js";
import type { Logger } from "../log.js";
import type { EventSink } from "../webhooks/sink.js";
import { keyOfSource, sourceOfKey, type InviteManager, type ManagedInvite } from "../xmpp/inviteManager.js";
import type { InviteState } from "../xmpp/inviteStates.js";
import { boundedTtl, countedInvite } from "./inviteQuota.js";
import type { ApiKeyState } from "./requireApiKey.js";
import { USERNAME } from "./usernames.js";
import { fieldError } from "./fieldErrors.js";
import type { ArrivalJson, InviteJson } from "./apiTypes.js";
import { INVITE_BODIES, LIMITS, pageQuery, type Kind } from "./wire/requests.js";

export type { InviteJson } from "./apiTypes.js";
export type { Kind } from "./wire/requests.js";

/** An invite as Prosody keeps it, in the wire shape of wire/answers.ts. */
export const inviteJson = (invite: ManagedInvite): InviteJson => ({
  id: invite.id,
  type: invite.type,
  reusable: invite.reusable,
  inviter: invite.inviter ?? null,
  jid: invite.jid,
  uri: invite.uri,
  landing_page: invite.landingPage ?? null,
  created_at: invite.createdAt,
  expires: invite.expires,
  groups: [...invite.groups],
  roles: [...invite.roles],
  reset: invite.reset,
  note: invite.note ?? null,
  ref: invite.ref ?? null,
  source: invite.source ?? null,
  uses: invite.uses,
  max_uses: invite.maxUses ?? null,
  state: invite.state,
  closed_at: invite.closedAt ?? null,
  ...(invite.redemptions ? { redemptions: [...invite.redemptions] } : {}),
});

// An invite's id is a token of mod_invites (base64url); anything else cannot name one.
const INVITE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The JSON body as `schema` reads it: 415 for another media type, 400 naming the first bad field. */
export function jsonBody<S extends z.ZodType>(
  ctx: Context,
  schema: S,
  expected?: Readonly<Record<string, string>>,
): z.infer<S> {
  const raw = (ctx.request as { body?: unknown }).body;
  const length = Number(ctx.get("Content-Length") || 0);
  if ((length > 0 || ctx.get("Transfer-Encoding")) && !ctx.is("application/json")) {
    throw new AppError("unsupported_media_type", "the body is not application/json");
  }
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) throw fieldError(parsed.error.issues, "body", raw ?? {}, expected);
  return parsed.data;
}

export type InviteRequest<K extends Kind> = z.infer<(typeof INVITE_BODIES)[K]>;

export interface ResourceDeps {
  readonly manager: InviteManager;
  readonly keys: KeyStore;
  readonly log: Logger;
  readonly now: () => Date;
  /** Webhook events of what the routes do (created, revoked); none in unit tests. */
  readonly events?: EventSink;
}

/** Asks Prosody for one invite of a parsed request, counted against the key (its power, --max-ttl, --max-invites). */
export function makeInvite(kind: Kind, request: InviteRequest<Kind>, deps: ResourceDeps, apiKey: KeyInfo) {
  assertPower(apiKey, kind);
  const { host } = apiKey;
  const source = sourceOfKey(apiKey.id);
  const counted = (work: () => Promise<ManagedInvite>) => countedInvite(deps.keys, apiKey, deps.now, work);
  const ttl = boundedTtl(apiKey, request.ttl);
  switch (kind) {
    case "account":
      return counted(() => deps.manager.createAccount(host, { ...(request as InviteRequest<"account">), ttl, source }));
    case "group": {
      const { max_uses: maxUses, ...rest } = request as InviteRequest<"group">;
      return counted(() => deps.manager.createGroup(host, { ...rest, ttl, source, maxUses }));
    }
    case "reset": {
      const { username, ref } = request as InviteRequest<"reset">;
      return counted(() => deps.manager.createReset(host, { username, ttl, source, ...(ref ? { ref } : {}) }));
    }
  }
}

/** The audit line of an invite made (the key and, for a reset, the account; never the token) and its event's data. */
export function inviteMade(kind: Kind, invite: ManagedInvite, deps: ResourceDeps, apiKey: KeyInfo) {
  const account = invite.reset ? { account: invite.jid } : {};
  deps.log.info(
    { audit: "invite", type: kind, keyId: apiKey.id, host: apiKey.host, expires: invite.expires, ...account },
    "invite issued",
  );
  return {
    host: apiKey.host,
    invite: invite.id,
    key: apiKey.id,
    kind,
    jid: invite.jid,
    reusable: invite.reusable,
    max_uses: invite.maxUses ?? null,
    expires: invite.expires,
    ref: invite.ref ?? null,
    actor: sourceOfKey(apiKey.id),
  };
}

/** POST /invites/account, /invites/group, /invites/reset: 201 with the invite. */
export function createInvite(kind: Kind, deps: ResourceDeps) {
  return async function createInvite(ctx: Context): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    assertPower(apiKey, kind);
    const invite = await makeInvite(kind, jsonBody(ctx, INVITE_BODIES[kind]), deps, apiKey);
    await deps.events?.emit("invite.created", inviteMade(kind, invite, deps, apiKey));
    ctx.status = 201;
    ctx.set("Location", `/invites/${invite.id}`);
    ctx.body = inviteJson(invite);
  };
}

export function inviteId(ctx: Context): string {
  const id = (ctx.params as { id?: string }).id ?? "";
  if (!INVITE_ID.test(id)) throw new AppError("invite_not_found", "not an invite id");
  return id;
}

function page(ctx: Context): { limit: number; after?: string; state?: InviteState } {
  const parsed = pageQuery.safeParse(ctx.query);
  if (!parsed.success) throw fieldError(parsed.error.issues, "query", ctx.query);
  const { limit, after, state } = parsed.data;
  return { limit: limit ?? LIMITS.pageDefault, ...(after ? { after } : {}), ...(state ? { state } : {}) };
}

/**
 * GET /invites: one page of the host's invites the service may see, oldest first, as a JSON array
 * (mod_http_admin_api's shape); `Link: <…>; rel="next"` (RFC 8288) when there may be more. Pending
 * ones by default; `state=used|expired|revoked` lists the history the module keeps, whose pages
 * examine a bounded number of invites: among the many the service may not see, a page is short.
 */
export function listInvites(deps: ResourceDeps) {
  return async function listInvites(ctx: Context): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    assertPower(apiKey, "list");
    const request = page(ctx);
    const { invites, next } = await deps.manager.list(apiKey.host, request);
    if (next) {
      const state = request.state ? `state=${request.state}&` : "";
      ctx.set("Link", `</invites?${state}limit=${request.limit}&after=${encodeURIComponent(next)}>; rel="next"`);
    }
    ctx.body = invites.map(inviteJson);
  };
}

/** GET /invites/{id}. */
export function showInvite(deps: ResourceDeps) {
  return async function showInvite(ctx: Context): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    assertPower(apiKey, "list");
    ctx.body = inviteJson(await deps.manager.show(apiKey.host, inviteId(ctx)));
  };
}

/** DELETE /invites/{id}: 204; the link stops working at once. */
export function revokeInvite(deps: ResourceDeps) {
  return async function revokeInvite(ctx: Context): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    assertPower(apiKey, "revoke");
    const id = inviteId(ctx);
    const revoked = await deps.manager.revoke(apiKey.host, id);
    await deps.events?.emit("invite.revoked", {
      host: apiKey.host,
      invite: id,
      key: keyOfSource(revoked?.source),
      revoked_by: apiKey.id,
      ref: revoked?.ref ?? null,
      actor: sourceOfKey(apiKey.id),
    });
    // The audit line names the key, never the invite's token.
    deps.log.info({ audit: "revoke", keyId: apiKey.id, host: apiKey.host }, "invite revoked");
    ctx.status = 204;
  };
}

/**
 * GET /accounts/{jid}/invite: which invite let the account in, when, and the key that made it
 * (`key`: null for an invite not made through this service's keys). `jid` is `user@host` (the
 * key's host) or just `user`.
 */
export function accountInvite(deps: ResourceDeps) {
  return async function accountInvite(ctx: Context): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    assertPower(apiKey, "list");
    const raw = (ctx.params as { jid?: string }).jid ?? "";
    const at = raw.lastIndexOf("@");
    const [user, host] = at < 0 ? [raw, apiKey.host] : [raw.slice(0, at), raw.slice(at + 1).toLowerCase()];
    if (host !== apiKey.host || !USERNAME.test(user)) {
      throw new AppError("invite_not_found", "no record of an invite for this account on the key's host");
    }
    const arrival = await deps.manager.account(apiKey.host, user);
    const key = keyOfSource(arrival.source);
    const body: ArrivalJson = {
      jid: arrival.jid,
      invite: arrival.id,
      at: arrival.at,
      source: arrival.source ?? null,
      key,
      ref: arrival.ref ?? null,
    };
    ctx.body = body;
  };
}
