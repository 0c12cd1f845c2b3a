import type { Power } from "./powers.js";

export const HTTP_METHODS = ["GET", "POST"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** What a key may be made with; what each allows is in powers.ts. */
export const KEY_SCOPES = ["create", "group", "reset", "manage"] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];

/** A rate: at most `points` invites per `durationSeconds`. */
export interface Rate {
  readonly points: number;
  readonly durationSeconds: number;
}

/** What is stored for a key. The secret itself is never stored, only its SHA-256. */
export interface KeyRecord {
  readonly id: string;
  readonly host: string;
  readonly name: string;
  readonly createdAt: string;
  readonly methods: readonly HttpMethod[];
  /** ISO time after which the key is refused; none: never. */
  readonly expiresAt?: string;
  /** Its own rate limit; none: the service's DEFAULT_KEY_RATE. */
  readonly rate?: Rate;
  /** How many invites it may ever issue; none: no limit. */
  readonly maxInvites?: number;
  /** What it may do (powers.ts); none: its `scope`. */
  readonly scopes?: readonly KeyScope[];
  /** Keys made before scopes were a list: one scope; none: "create". Read, never written. */
  readonly scope?: "create" | "manage";
  /** The longest an invite it makes may stay valid, in seconds; none: Prosody's own limits. */
  readonly maxTtlSeconds?: number;
  /**
   * Its circles (group ids, `--groups`): it makes invites only into them and sees, shows, revokes
   * and updates only theirs (src/people/confinement.ts); none: the whole host.
   */
  readonly groups?: readonly string[];
  readonly invitesIssued?: number;
  readonly lastUsedAt?: string;
  /** Where an imported key came from, e.g. "mod_invites_api (sql)". */
  readonly importedFrom?: string;
  readonly secretHash: string;
  /** When `rotate` last gave the key a new secret. */
  readonly rotatedAt?: string;
  /** The secret the last rotation replaced (its SHA-256), accepted until previousSecretUntil. */
  readonly previousSecretHash?: string;
  /** ISO time at which the previous secret's grace ends; none: no grace (or none ever). */
  readonly previousSecretUntil?: string;
}

/** previousSecretUntil only while that grace runs. */
export type KeyInfo = Omit<KeyRecord, "secretHash" | "scope" | "scopes" | "previousSecretHash"> & {
  readonly invitesIssued: number;
  /** Accounts registered through its invites (counted from Prosody's records, see redemptions/). */
  readonly accountsRegistered: number;
  readonly lastRegistrationAt?: string;
  readonly scopes: readonly KeyScope[];
  /**
   * A signed-in person's (src/people/caller.ts): exactly these powers (their role's, and a
   * manager's within circles) instead of those of `scopes`. Never stored: keys have none.
   */
  readonly powers?: readonly Power[];
};

export interface KeyOptions {
  readonly name?: string;
  /** Methods the key may use; both by default, as mod_invites_api creates keys. */
  readonly methods?: readonly HttpMethod[];
  readonly expiresAt?: string;
  readonly rate?: Rate;
  readonly maxInvites?: number;
  readonly scopes?: readonly KeyScope[];
  readonly maxTtlSeconds?: number;
  readonly groups?: readonly string[];
}
