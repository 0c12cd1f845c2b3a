import type { Delivery } from "./webhooks.js";

/**
 * A key's usage (invites issued, last use) is kept apart from its record, in each store's own
 * atomic operations, so that counting never writes the record back: a `delete` from the CLI or
 * another instance stays final, and `--max-invites` is exact however many instances count.
 *
 * A counter exists from the key's creation until its deletion; every update is conditional on it,
 * so a deleted key is never counted (nor brought back).
 */
export type CountResult = "counted" | "exhausted" | "missing";

export interface Usage {
  readonly invitesIssued: number;
  readonly lastUsedAt?: string;
  /** Accounts registered through its invites, as counted from the module's records. */
  readonly accountsRegistered?: number;
  readonly lastRegistrationAt?: string;
}

/**
 * Registrations read from one host's records (mod_invites_manage's `redemptions` command), to be
 * counted in one step with the cursor that says how far the records have been read.
 */
export interface RedemptionBatch {
  readonly host: string;
  /** The cursor the batch was read after; null: from the oldest record. */
  readonly from: string | null;
  /**
   * Where the cursor moves: the last record's, or past it where the module examined records the
   * service may not see (a batch that only moves the cursor holds no record).
   */
  readonly to: string;
  /** Accounts registered through each key's invites, with the latest time (ISO 8601). */
  readonly accounts: ReadonlyMap<string, { readonly count: number; readonly lastAt: string }>;
  /** Every account registered in the batch, and every password reset. */
  readonly registrations: number;
  readonly resets: number;
  /** Webhook deliveries of these records, queued in the same step (none without subscriptions). */
  readonly deliveries: readonly Delivery[];
}

/** What a host's records have counted so far, over the life of the store. */
export interface RedemptionTotals {
  readonly host: string;
  readonly registrations: number;
  readonly resets: number;
}

export interface UsageCounters {
  /** Creates the counter of a key about to be written (replacing any the id had). */
  create(id: string, usage: Usage): Promise<void>;
  /** Creates the counter only if there is none (keys written before counters existed). */
  adopt(id: string, usage: Usage): Promise<void>;
  /**
   * Adds `count` invites at `at`, atomically, unless that would pass `max`: "exhausted" then;
   * "missing" when the key has no counter (deleted, or written before counters existed).
   */
  add(id: string, count: number, at: string, max: number | undefined): Promise<CountResult>;
  /** Gives one invite back (never below zero); nothing when the counter is gone. */
  release(id: string): Promise<void>;
  read(ids: readonly string[]): Promise<Map<string, Usage>>;
  remove(id: string): Promise<void>;
}

/**
 * The redemption ledger: each host's registration records counted once, into the keys' usage
 * counters and the host's totals, with the webhook deliveries of those records queued in the same step.
 */
export interface RedemptionLedger {
  /** How far the host's records have been counted; null before the first batch. */
  redemptionCursor(host: string): Promise<string | null>;
  /**
   * Counts the batch and moves the host's cursor to `to`, all or nothing, only if the cursor is
   * still `from`; false when another process (instance) counted it first. Keys deleted since are
   * not counted (nor brought back).
   */
  applyRedemptions(batch: RedemptionBatch): Promise<boolean>;
  redemptionTotals(): Promise<RedemptionTotals[]>;
}
