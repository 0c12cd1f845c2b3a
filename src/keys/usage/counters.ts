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
}

export interface UsageCounters {
  /** Creates (or resets) the counter of a key about to be written. */
  reset(id: string, usage: Usage): Promise<void>;
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
