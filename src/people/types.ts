import type { Power } from "../keys/powers.js";
import type { KeyScope, Rate } from "../keys/keyRecord.js";

/**
 * People, not keys (issue 29): a member signs in with their XMPP account (Prosody 13:
 * mod_http_oauth2; any version: a one-time link the component sends as an XMPP message), and then
 * acts with the powers the operator gave their Prosody role on that host (PEOPLE_POWERS), within a
 * quota per person, and, when named a manager, within their circles (groups).
 */

/** Who a signed-in person is, as Prosody says (people.lib.lua's `person` command). */
export interface PersonFacts {
  /**
   * The account's bare JID as Prosody preps it (nodeprep: case, Unicode forms): the one name of
   * the person for sessions, quotas, circles and invites' source, whatever was typed. Absent from
   * a module older than this field: then the JID asked about.
   */
  readonly jid?: string;
  /** The account exists on the host. */
  readonly exists: boolean;
  /** false: the account is disabled (Prosody 13); always true on 0.12. */
  readonly enabled: boolean;
  /**
   * Its primary role's name on 13 (prosody:operator, prosody:admin, prosody:member,
   * prosody:registered, prosody:guest, or a custom one); on 0.12 "prosody:admin" for a host admin,
   * "prosody:registered" for anyone else.
   */
  readonly role: string;
}

/** Asks Prosody about accounts (src/xmpp/people.ts). */
export interface PersonLookup {
  /** `jid` is a bare JID of `host`; throws `AppError("prosody_unavailable")` and the like on failure. */
  person(host: string, jid: string): Promise<PersonFacts>;
}

/** Sends a chat message from the component's JID to a bare JID (src/xmpp/messages.ts). */
export interface MessageSender {
  send(to: string, body: string): Promise<void>;
}

/** What one role gives on one host (PEOPLE_POWERS). */
export interface RoleGrant {
  /** Scopes from keys' table (powers.ts): the powers are those of these scopes. */
  readonly scopes: readonly KeyScope[];
  /** At most this many invites per person per window; none: no quota. */
  readonly quota?: Rate;
}

export interface HostPeople {
  /** Role name → grant; a role not named gets nothing. */
  readonly roles: Readonly<Record<string, RoleGrant>>;
  /** Bare JID → the circles (group ids) that person manages on the host. */
  readonly managers: Readonly<Record<string, readonly string[]>>;
}

/** PEOPLE_POWERS, parsed: per host, with "*" for every host not named. */
export type PeoplePolicy = Readonly<Record<string, HostPeople>>;

/** A signed-in person's session, as the store keeps it (under the SHA-256 of the cookie's value). */
export interface SessionRecord {
  readonly jid: string;
  readonly host: string;
  /** How they signed in. */
  readonly via: "link" | "oauth";
  /** Unix ms. */
  readonly createdAt: number;
  readonly lastSeenAt: number;
  /** The anti-CSRF token the page sends back in X-CSRF-Token on every change. */
  readonly csrf: string;
}

/**
 * A person acting, as routes see them beside `ctx.state.apiKey` (which, for a person, is the
 * synthetic KeyInfo of personCaller(): id = their bare JID, scopes from their role's grant,
 * `groups` = their circles when they are a manager).
 */
export interface PersonCaller {
  readonly jid: string;
  readonly host: string;
  readonly role: string;
  readonly powers: readonly Power[];
  readonly quota?: Rate;
  /** Managers' circles; none: not confined to circles. */
  readonly circles?: readonly string[];
  /** Without the `list` power: sees, shows and revokes only the invites they made. */
  readonly ownOnly: boolean;
  readonly sessionHash: string;
}

/** A person's quota as it stands. */
export interface QuotaState {
  readonly limit: number;
  readonly used: number;
  /** Unix ms at which the oldest use in the window leaves it (a place frees); none: nothing used. */
  readonly nextAt?: number;
}

/**
 * Invites per person per rolling window, exact across instances and restarts: each backend's own
 * atomic operation (Redis: one Lua script on a sorted set; PostgreSQL: one transaction under an
 * advisory lock per subject; SQLite: one IMMEDIATE transaction; memory: synchronous).
 */
export interface QuotaStore {
  /**
   * Takes one place for `use` (a random id) if fewer than `limit` uses fall within
   * (now - windowMs, now]; `taken: false` and the state otherwise, nothing written.
   */
  take(
    subject: string,
    limit: number,
    windowMs: number,
    now: number,
    use: string,
  ): Promise<{ taken: boolean; state: QuotaState }>;
  /** Gives `use` back (Prosody refused the invite); nothing when it is not there. */
  release(subject: string, use: string): Promise<void>;
  peek(subject: string, limit: number, windowMs: number, now: number): Promise<QuotaState>;
}

/**
 * Values that must be used once: a sign-in link's token, an OAuth state. `take` reads and deletes
 * in one atomic step (Redis GETDEL, PostgreSQL DELETE … RETURNING, SQLite DELETE … RETURNING), so a
 * value replayed, even at the same instant to two instances, is taken once.
 */
export interface OneTimeStore {
  put(id: string, value: string, ttlMs: number): Promise<void>;
  /** The value, once; undefined when unknown, expired or already taken. */
  take(id: string): Promise<string | undefined>;
}
