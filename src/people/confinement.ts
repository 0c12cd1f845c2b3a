import type { Context } from "koa";
import { AppError } from "../errors.js";
import type { KeyInfo } from "../keys/keyRecord.js";
import { assertPower, type Power } from "../keys/powers.js";
import { sourceOfKey } from "../xmpp/inviteManager.js";
import type { PersonCaller } from "./types.js";

/**
 * Who may touch which invite, in one place for every route: a caller with circles (a key made with
 * --groups, a manager) makes invites only into them and sees only invites whose groups are
 * non-empty and within them; a person without the list power sees only the invites they made. An
 * invite out of reach is answered exactly as an unknown id (404 invite_not_found), never 403,
 * which would tell that it exists.
 */

export interface Caller {
  readonly apiKey: KeyInfo;
  readonly person?: PersonCaller;
}

export const callerOf = (ctx: Context): Caller => {
  const state = ctx.state as { apiKey: KeyInfo; person?: PersonCaller };
  return state.person ? { apiKey: state.apiKey, person: state.person } : { apiKey: state.apiKey };
};

/** What a caller may see: all of the host (both undefined), their circles' invites, or their own. */
export interface Reach {
  readonly circles?: readonly string[];
  /** The source of the invites an own-only person made: invites-api/JID. */
  readonly ownSource?: string;
}

export const circlesOf = (caller: Caller): readonly string[] | undefined =>
  caller.apiKey.groups?.length ? caller.apiKey.groups : undefined;

/**
 * The reach of a caller for a power that reads or changes existing invites (list, revoke,
 * update), after checking it: a person without list (a member) lists, shows and revokes their own
 * invites all the same; anything else needs the power.
 */
export function reachFor(caller: Caller, power: Extract<Power, "list" | "revoke" | "update">): Reach {
  const circles = circlesOf(caller);
  if (caller.person?.ownOnly && power !== "update") {
    return { ownSource: sourceOfKey(caller.person.jid), ...(circles ? { circles } : {}) };
  }
  assertPower(caller.apiKey, power);
  return circles ? { circles } : {};
}

/** Whether the invite is within the reach. */
export function withinReach(reach: Reach, invite: { groups: readonly string[]; source?: string | undefined }): boolean {
  if (reach.ownSource !== undefined && invite.source !== reach.ownSource) return false;
  if (reach.circles === undefined) return true;
  const circles = reach.circles;
  return invite.groups.length > 0 && invite.groups.every((group) => circles.includes(group));
}

/** The invite itself when within reach; otherwise the same 404 an unknown id gets. */
export function reachable<T extends { groups: readonly string[]; source?: string | undefined }>(
  reach: Reach,
  invite: T,
  host: string,
): T {
  if (!withinReach(reach, invite)) throw new AppError("invite_not_found", `no invite with this id on ${host}`);
  return invite;
}

/**
 * The groups of an invite a confined caller makes: those asked for when all are within their
 * circles; none asked for and one circle: that one; anything else a 400 naming the circles. An
 * unconfined caller's are left as asked. A password reset is in no circle: refused.
 */
export function groupsFor(caller: Caller, kind: Power, asked: readonly string[] | undefined) {
  const circles = circlesOf(caller);
  if (!circles) return asked;
  if (kind === "reset") {
    throw new AppError("insufficient_scope", `${caller.apiKey.id} is confined to circles: no password resets`);
  }
  if (!asked?.length) {
    if (circles.length === 1) return [...circles];
    throw new AppError("bad_request", `groups: give one or more of this caller's circles: ${circles.join(", ")}`);
  }
  const outside = asked.filter((group) => !circles.includes(group));
  if (outside.length > 0) {
    throw new AppError("bad_request", `groups: only this caller's circles may be given: ${circles.join(", ")}`);
  }
  return asked;
}

/** The host's budget is the whole host's: no caller confined to circles reads or sets it. */
export function assertWholeHost(caller: Caller): void {
  if (circlesOf(caller)) {
    throw new AppError("insufficient_scope", `${caller.apiKey.id} is confined to circles: the budget is the host's`);
  }
}

/**
 * Persons put a new account into groups only as managers (within their circles, groupsFor) or with
 * the manage scope: a group is a shared roster, a way into the host's circles of people, which a
 * member's quota of invites must not open. Keys as their scopes allow, as before.
 */
export function assertMayGiveGroups(caller: Caller, groups: readonly string[] | undefined): void {
  if (caller.person && groups?.length && !circlesOf(caller) && !caller.apiKey.scopes.includes("manage")) {
    throw new AppError(
      "insufficient_scope",
      `${caller.person.jid} may put no one into groups: that needs the manage scope or managing the group`,
    );
  }
}

/** Persons give roles only with the manage scope (keys as their scopes allow, as before). */
export function assertMayGiveRoles(caller: Caller, roles: readonly string[] | undefined): void {
  if (caller.person && roles?.length && !caller.apiKey.scopes.includes("manage")) {
    throw new AppError("insufficient_scope", `${caller.person.jid} may give no roles: that needs the manage scope`);
  }
}
