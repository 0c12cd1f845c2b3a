import { z } from "zod";
import { parseRate } from "../keys/durations.js";
import { KEY_SCOPES, type KeyScope, type Rate } from "../keys/keyRecord.js";
import type { HostPeople, PeoplePolicy, RoleGrant } from "./types.js";

/**
 * PEOPLE_POWERS: which Prosody role gets which powers on which host, and who manages which circles.
 * `{"*": {"roles": {ROLE: {"scopes": [...], "quota": "5/7d"}}, "managers": {JID: [GROUP…]}}, HOST: {…}}`.
 * A host's `roles`, when given, is its whole table (a role not named gets nothing); without it the
 * host takes "*"'s, and "*" without it the default below. Managers of "*" and of the host both count.
 */

/** Host admins manage; members make single-use account invites, five a week; guests nothing. */
export const DEFAULT_ROLES: Readonly<Record<string, RoleGrant>> = Object.freeze({
  "prosody:operator": { scopes: ["manage"] },
  "prosody:admin": { scopes: ["manage"] },
  "prosody:member": { scopes: ["create"], quota: { points: 5, durationSeconds: 7 * 86_400 } },
  "prosody:registered": { scopes: ["create"], quota: { points: 5, durationSeconds: 7 * 86_400 } },
});

// A group id as an invite body takes one (wire/requests.ts): 1-200 characters, no control character.
const groupId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\p{Cc}]+$/u, "no control characters");
const bareJid = z
  .string()
  .regex(/^[^\s@/]+@[^\s@/]+$/, "expected a bare JID such as alice@example.com")
  .transform((jid) => jid.toLowerCase());
const grant = z.strictObject({
  scopes: z.array(z.enum(KEY_SCOPES)),
  quota: z
    .string()
    .refine((v) => parseRate(v) !== undefined, "expected N/PERIOD such as 5/7d")
    .optional(),
});
const hostPeople = z.strictObject({
  roles: z.record(z.string().min(1), grant).optional(),
  managers: z.record(bareJid, z.array(groupId).min(1)).optional(),
});
const policySchema = z.record(z.string().min(1), hostPeople);

/** Thrown for a PEOPLE_POWERS that does not parse; config.ts turns it into its ConfigError. */
export class PolicyError extends Error {
  override readonly name = "PolicyError";
}

type RawGrant = z.infer<typeof grant>;

const grantOf = (raw: RawGrant): RoleGrant => {
  const quota = raw.quota === undefined ? undefined : parseRate(raw.quota);
  return { scopes: [...new Set(raw.scopes)], ...(quota ? { quota } : {}) };
};

/** PEOPLE_POWERS as JSON text (undefined: the default for every host). */
export function parsePeoplePolicy(text: string | undefined): PeoplePolicy {
  let json: unknown = {};
  if (text !== undefined && text.trim() !== "") {
    try {
      json = JSON.parse(text);
    } catch {
      throw new PolicyError('PEOPLE_POWERS is not JSON: expected e.g. {"*": {"roles": {…}, "managers": {…}}}');
    }
  }
  const parsed = policySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.map(String).join(".") ?? "";
    // A bad key of a record (a manager's JID) says why in its own issues.
    const inner = issue?.code === "invalid_key" ? issue.issues[0]?.message : undefined;
    throw new PolicyError(`PEOPLE_POWERS${where ? `.${where}` : ""}: ${inner ?? issue?.message ?? "invalid"}`);
  }
  const raw = parsed.data;
  const roles = (given: Record<string, RawGrant> | undefined, fallback: Readonly<Record<string, RoleGrant>>) =>
    given ? Object.fromEntries(Object.entries(given).map(([role, g]) => [role, grantOf(g)])) : fallback;
  const starRoles = roles(raw["*"]?.roles, DEFAULT_ROLES);
  const starManagers = raw["*"]?.managers ?? {};
  const policy: Record<string, HostPeople> = { "*": { roles: starRoles, managers: starManagers } };
  for (const [host, people] of Object.entries(raw)) {
    if (host === "*") continue;
    policy[host.toLowerCase()] = {
      roles: roles(people.roles, starRoles),
      managers: { ...starManagers, ...people.managers },
    };
  }
  return Object.freeze(policy);
}

/** What a person gets on a host: their role's scopes and quota, and the circles they manage. */
export interface Grant {
  readonly scopes: readonly KeyScope[];
  readonly quota?: Rate;
  readonly circles?: readonly string[];
}

export function grantFor(policy: PeoplePolicy, host: string, role: string, jid: string): Grant {
  const people = policy[host.toLowerCase()] ?? policy["*"] ?? { roles: DEFAULT_ROLES, managers: {} };
  // Own property only: a role named "constructor" or "__proto__" is a role like any other.
  const roleGrant = Object.hasOwn(people.roles, role) ? people.roles[role] : undefined;
  const key = jid.toLowerCase();
  const circles = Object.hasOwn(people.managers, key) ? people.managers[key] : undefined;
  return {
    scopes: roleGrant?.scopes ?? [],
    ...(roleGrant?.quota ? { quota: roleGrant.quota } : {}),
    ...(circles?.length ? { circles: [...new Set(circles)] } : {}),
  };
}
