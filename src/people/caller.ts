import { HTTP_METHODS, type KeyInfo } from "../keys/keyRecord.js";
import { POWERS, SCOPE_POWERS, type Power } from "../keys/powers.js";
import { grantFor } from "./policy.js";
import type { PeoplePolicy, PersonCaller, PersonFacts, SessionRecord } from "./types.js";

/**
 * What a manager may do within their circles whatever their role gives: make account and group
 * invites into them, and list, show, revoke and update theirs. Never a password reset (an account
 * is in no circle it could be checked against) nor the host's budget.
 */
const MANAGER_POWERS: readonly Power[] = ["account", "group", "list", "revoke", "update"];

/** A person's synthetic KeyInfo has their bare JID as its id; key ids (base64url) never hold "@". */
export const isPerson = (apiKey: Pick<KeyInfo, "id">): boolean => apiKey.id.includes("@");

/**
 * The caller a signed-in person is on their host, as routes see it: `apiKey` (a KeyInfo built for
 * them, id = their JID) and `person`. Undefined when the account is gone or disabled, or when their
 * role gives nothing and they manage no circle: such a session may call no route of the API.
 * A person whose role already lists the whole host is not confined by being named a manager too.
 */
export function personCaller(
  facts: PersonFacts,
  session: Pick<SessionRecord, "jid" | "host" | "createdAt"> & { readonly hash: string },
  policy: PeoplePolicy,
): { apiKey: KeyInfo; person: PersonCaller } | undefined {
  if (!facts.exists || !facts.enabled) return undefined;
  const grant = grantFor(policy, session.host, facts.role, session.jid);
  const fromRole = new Set<Power>(grant.scopes.flatMap((scope) => SCOPE_POWERS[scope] as readonly Power[]));
  const circles = fromRole.has("list") ? undefined : grant.circles;
  if (circles) for (const power of MANAGER_POWERS) fromRole.add(power);
  if (fromRole.size === 0) return undefined;
  const powers = POWERS.filter((power) => fromRole.has(power));
  const apiKey: KeyInfo = {
    id: session.jid,
    host: session.host,
    name: session.jid,
    createdAt: new Date(session.createdAt).toISOString(),
    methods: [...HTTP_METHODS],
    scopes: [...grant.scopes],
    powers,
    ...(circles ? { groups: circles } : {}),
    invitesIssued: 0,
    accountsRegistered: 0,
  };
  const person: PersonCaller = {
    jid: session.jid,
    host: session.host,
    role: facts.role,
    powers,
    ...(grant.quota ? { quota: grant.quota } : {}),
    ...(circles ? { circles } : {}),
    ownOnly: !powers.includes("list"),
    sessionHash: session.hash,
  };
  return { apiKey, person };
}
