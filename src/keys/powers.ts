import { AppError } from "../errors.js";
import type { KeyInfo, KeyScope } from "./keyRecord.js";

/**
 * What a request may do to the host's accounts, from least to most: a single-use account invite
 * lets one person in; a reusable group invite lets in anyone who holds it until it expires; a
 * password reset takes an existing account over; listing and showing hand out pending invites'
 * tokens (and tell which invite let an account in); revoking takes them away; updating extends a
 * pending invite's life or uses; the budget opens, narrows or closes registration on the whole host.
 */
export const POWERS = ["account", "group", "reset", "list", "revoke", "update", "budget"] as const;
export type Power = (typeof POWERS)[number];

/** The one table of what each scope allows; docs/http-api.md's scope table is this table. */
export const SCOPE_POWERS = {
  create: ["account"],
  group: ["group"],
  reset: ["reset"],
  manage: ["account", "group", "reset", "list", "revoke", "update", "budget"],
} as const satisfies Record<KeyScope, readonly Power[]>;

type Holder = Pick<KeyInfo, "id" | "scopes" | "maxInvites" | "powers">;

/**
 * Why a key may not use a power, or undefined when it may. A key with --max-invites never makes a
 * reusable invite: its uses are not counted, so the quota would not bound the accounts let in.
 */
export function refusal(key: Holder, power: Power): string | undefined {
  if (power === "group" && key.maxInvites !== undefined) {
    return `key ${key.id} has --max-invites, which a reusable invite could exceed`;
  }
  // A signed-in person: their powers are given as such (src/people/caller.ts).
  if (key.powers) return key.powers.includes(power) ? undefined : `${key.id} may not use the ${power} power here`;
  // A scope this version does not know (a newer version's, say) allows nothing.
  const allows = (scope: KeyScope) => (SCOPE_POWERS[scope] as readonly Power[] | undefined)?.includes(power) ?? false;
  if (key.scopes.some(allows)) return undefined;
  const granting = (Object.keys(SCOPE_POWERS) as KeyScope[]).filter(allows);
  return `key ${key.id} has scope ${key.scopes.join(",")}; this needs ${granting.join(" or ")}`;
}

/** Throws `insufficient_scope`, saying why, when the key may not use the power. */
export function assertPower(key: Holder, power: Power): void {
  const why = refusal(key, power);
  if (why) throw new AppError("insufficient_scope", why);
}
