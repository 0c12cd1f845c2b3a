import type { Context } from "koa";
import type { z } from "zod";
import { AppError } from "../errors.js";
import { assertPower } from "../keys/powers.js";
import type { KeyInfo, KeyStore } from "../keys/keyStore.js";
import type { Logger } from "../log.js";
import type { EventSink } from "../webhooks/sink.js";
import { keyOfSource, sourceOfKey, type InviteManager, type ManagedInvite } from "../xmpp/inviteManager.js";
import { auditActor, authorName, inviteAuthor, revocationAuthor } from "../people/authors.js";
import { isPerson } from "../people/caller.js";
import {
  assertMayGiveGroups,
  assertMayGiveRoles,
  callerOf,
  groupsFor,
  reachable,
  reachFor,
  withinReach,
  type Caller,
  type Reach,
} from "../people/confinement.js";
import { withinQuota } from "../people/quota.js";
import type { QuotaStore } from "../people/types.js";
import type { InviteState } from "../xmpp/inviteStates.js";
import { boundedTtl, countedInvite } from "./inviteQuota.js";
import { USERNAME } from "./usernames.js";
import { fieldError } from "./fieldErrors.js";
import type { ArrivalJson, InviteJson } from "./apiTypes.js";
import { INVITE_BODIES, LIMITS, pageQuery, type Kind } from "./wire/requests.js";

export type { InviteJson } from "./apiTypes.js";
export type { Kind } from "./wire/requests.js";

/** An invite as Prosody keeps it, in the wire shape of wire/answers.ts; `host` names its users' invites' makers. */
export const inviteJson = (invite: ManagedInvite, host: string): InviteJson => ({
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
  created_by: inviteAuthor(invite, host),
  revoked_by: invite.state === "revoked" ? revocationAuthor(invite) : null,
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
  /** Persons' invites per window (their role's quota); none: a person with a quota is refused (503). */
  readonly quotas?: QuotaStore;
}

/**
 * The checks of one invite asked for, before anything is counted: the caller's power, their
 * circles (which give the invite its groups), roles only for who may give them, --max-ttl.
 */
export function checkedRequest<K extends Kind>(kind: K, request: InviteRequest<K>, caller: Caller): InviteRequest<K> {
  assertPower(caller.apiKey, kind);
  const asked = "groups" in request ? request.groups : undefined;
  const groups = groupsFor(caller, kind, asked);
  assertMayGiveGroups(caller, asked);
  if ("roles" in request) assertMayGiveRoles(caller, request.roles);
  boundedTtl(caller.apiKey, request.ttl);
  return groups === asked ? request : { ...request, groups };
}

/**
 * Asks Prosody for one invite of a parsed request, counted against the key (its power, --max-ttl,
 * --max-invites) or the person (their quota), within the caller's circles.
 */
export function makeInvite(kind: Kind, given: InviteRequest<Kind>, deps: ResourceDeps, caller: Caller) {
  const { apiKey } = caller;
  const request = checkedRequest(kind, given, caller);
  const { host } = apiKey;
  const source = sourceOfKey(apiKey.id);
  const counted = (work: () => Promise<ManagedInvite>) =>
    withinQuota(deps.quotas, caller.person, deps.now, () => countedInvite(deps.keys, apiKey, deps.now, work));
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

/**
 * The audit line of an invite made (the key or person and, for a reset, the account; never the
 * token) and its event's data.
 */
export function inviteMade(kind: Kind, invite: ManagedInvite, deps: ResourceDeps, apiKey: KeyInfo) {
  const account = invite.reset ? { account: invite.jid } : {};
  deps.log.info(
    { audit: "invite", type: kind, ...auditActor(apiKey), host: apiKey.host, expires: invite.expires, ...account },
    "invite issued",
  );
  return {
    host: apiKey.host,
    invite: invite.id,
    key: isPerson(apiKey) ? null : apiKey.id,
    created_by: authorName(apiKey),
    groups: [...invite.groups],
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
    const caller = callerOf(ctx);
    const { apiKey } = caller;
    assertPower(apiKey, kind);
    const invite = await makeInvite(kind, jsonBody(ctx, INVITE_BODIES[kind]), deps, caller);
    await deps.events?.emit("invite.created", inviteMade(kind, invite, deps, apiKey));
    ctx.status = 201;
    ctx.set("Location", `/invites/${invite.id}`);
    ctx.body = inviteJson(invite, apiKey.host);
  };
}

// Stands for an invite no longer known: within nobody's reach.
const noInvite = { groups: [] as string[], source: "" };
const unknownAs =
  <T>(value: T) =>
  (err: unknown): T => {
    if (err instanceof AppError && err.code === "invite_not_found") return value;
    throw err;
  };

/**
 * A pending invite by id, for a confined caller about to change it; invite_not_found when it is
 * unknown or no longer pending (what revoking or updating it would have answered).
 */
export async function pendingInvite(manager: InviteManager, host: string, id: string): Promise<ManagedInvite> {
  const invite = await manager.show(host, id);
  if (invite.state !== "pending") throw new AppError("invite_not_found", `no pending invite with this id on ${host}`);
  return invite;
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
 * A caller confined to circles (or to their own invites) gets those within reach: pages of
 * Prosody are read on until the page is full, at most FILL_READS per request; past that, a page
 * may be short, even empty, with a next link. A page that fills up in the middle of Prosody's
 * ends at its last invite, whose cursor the module would have given (cursorOf).
 */
export function listInvites(deps: ResourceDeps) {
  return async function listInvites(ctx: Context): Promise<void> {
    const caller = callerOf(ctx);
    const { apiKey } = caller;
    const reach = reachFor(caller, "list");
    const request = page(ctx);
    const { invites, next } = await readWithin(deps.manager, apiKey.host, request, reach);
    if (next) {
      const state = request.state ? `state=${request.state}&` : "";
      ctx.set("Link", `</invites?${state}limit=${request.limit}&after=${encodeURIComponent(next)}>; rel="next"`);
    }
    ctx.body = invites.map((invite) => inviteJson(invite, apiKey.host));
  };
}

/** The most pages of Prosody one list request of a confined caller reads to fill its page. */
export const FILL_READS = 10;

// mod_invites_manage's list cursors (its list command): a pending invite's is CREATED.TOKEN (the
// listing index's order), a closed one's its token (the history's order).
const cursorOf = (invite: ManagedInvite, state: InviteState | undefined): string =>
  !state || state === "pending" ? `${invite.createdAt}.${invite.id}` : invite.id;

async function readWithin(
  manager: InviteManager,
  host: string,
  request: { limit: number; after?: string; state?: InviteState },
  reach: Reach,
): Promise<{ invites: ManagedInvite[]; next?: string }> {
  if (reach.circles === undefined && reach.ownSource === undefined) return manager.list(host, request);
  const found: ManagedInvite[] = [];
  let after = request.after;
  for (let read = 0; read < FILL_READS; read++) {
    const page = await manager.list(host, { ...request, ...(after ? { after } : {}) });
    after = page.next;
    for (const invite of page.invites) {
      if (!withinReach(reach, invite)) continue;
      found.push(invite);
      if (found.length < request.limit) continue;
      // Full: the next page starts after this invite, unless it was the last Prosody has.
      const last = page.invites.at(-1) === invite && !page.next;
      return { invites: found, ...(last ? {} : { next: cursorOf(invite, request.state) }) };
    }
    if (!after) break;
  }
  return { invites: found, ...(after ? { next: after } : {}) };
}

/** GET /invites/{id}. */
export function showInvite(deps: ResourceDeps) {
  return async function showInvite(ctx: Context): Promise<void> {
    const caller = callerOf(ctx);
    const reach = reachFor(caller, "list");
    const { host } = caller.apiKey;
    ctx.body = inviteJson(reachable(reach, await deps.manager.show(host, inviteId(ctx)), host), host);
  };
}

/** DELETE /invites/{id}: 204; the link stops working at once. */
export function revokeInvite(deps: ResourceDeps) {
  return async function revokeInvite(ctx: Context): Promise<void> {
    const caller = callerOf(ctx);
    const { apiKey } = caller;
    const reach = reachFor(caller, "revoke");
    const id = inviteId(ctx);
    // A confined caller's: looked at first, so that one out of reach is never touched. Groups and
    // source never change, so what is looked at is what is revoked.
    const confined = reach.circles !== undefined || reach.ownSource !== undefined;
    if (confined) reachable(reach, await pendingInvite(deps.manager, apiKey.host, id), apiKey.host);
    const revoked = await deps.manager.revoke(apiKey.host, id, sourceOfKey(apiKey.id));
    const keyId = keyOfSource(revoked?.source);
    await deps.events?.emit("invite.revoked", {
      host: apiKey.host,
      invite: id,
      key: keyId !== null && isPerson({ id: keyId }) ? null : keyId,
      created_by: revoked ? inviteAuthor(revoked, apiKey.host) : null,
      revoked_by: authorName(apiKey),
      groups: [...(revoked?.groups ?? [])],
      ref: revoked?.ref ?? null,
      actor: sourceOfKey(apiKey.id),
    });
    // The audit line names the key or person, never the invite's token.
    deps.log.info({ audit: "revoke", ...auditActor(apiKey), host: apiKey.host }, "invite revoked");
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
    const caller = callerOf(ctx);
    const { apiKey } = caller;
    const reach = reachFor(caller, "list");
    const raw = (ctx.params as { jid?: string }).jid ?? "";
    const at = raw.lastIndexOf("@");
    const [user, host] = at < 0 ? [raw, apiKey.host] : [raw.slice(0, at), raw.slice(at + 1).toLowerCase()];
    if (host !== apiKey.host || !USERNAME.test(user)) {
      throw new AppError("invite_not_found", "no record of an invite for this account on the key's host");
    }
    const arrival = await deps.manager.account(apiKey.host, user);
    if (reach.circles !== undefined || reach.ownSource !== undefined) {
      // The invite it came through, as the history keeps it: its groups say whose it is.
      reachable(reach, await deps.manager.show(apiKey.host, arrival.id).catch(unknownAs(noInvite)), apiKey.host);
    }
    const key = keyOfSource(arrival.source);
    const body: ArrivalJson = {
      jid: arrival.jid,
      invite: arrival.id,
      at: arrival.at,
      source: arrival.source ?? null,
      key: key !== null && isPerson({ id: key }) ? null : key,
      created_by: inviteAuthor(arrival, apiKey.host),
      ref: arrival.ref ?? null,
    };
    ctx.body = body;
  };
}
