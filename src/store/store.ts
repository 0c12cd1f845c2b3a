import type Keyv from "keyv";
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import type { Rate } from "../keys/keyRecord.js";
import type { Logger } from "../log.js";
import type { OneTimeStore, QuotaStore } from "../people/types.js";
import type { IdempotencyStore } from "./idempotency.js";
import type { RedemptionLedger, UsageCounters } from "./usage.js";
import type { WebhookStore } from "./webhooks.js";

/**
 * Everything the service keeps, in the one store KEY_STORE names, so that every instance and the CLI
 * pointing at it see the same: one implementation per backend (sqlite/, postgres/, redis/, memory/),
 * each checked by the one contract suite (test/e2e/storeContract.test.ts). What must commit together
 * (a page of the ledger and its webhook deliveries) is done inside one backend.
 */
export interface ServiceStore {
  /** API key records (keyv's values under `key:ID`), without their usage. */
  readonly keyRecords: Keyv;
  /** The same records' rows, for the changes that must not be lost to a concurrent write (a rotation). */
  readonly keyRows: KeyRecordRows;
  /** Each key's invites issued and last use, apart from its record. */
  readonly usage: UsageCounters;
  /** How far each host's registration records have been counted, and their totals. */
  readonly ledger: RedemptionLedger;
  /** Webhook subscriptions and their outbox. */
  readonly webhooks: WebhookStore;
  /** The answers of requests sent with an Idempotency-Key, kept 24 h (idempotency.ts). */
  readonly idempotency: IdempotencyStore;
  /** Invites per person per rolling window (issue 29), exact across instances. */
  readonly quotas: QuotaStore;
  /** Values used once (a sign-in link's token, an OAuth state), each taken by one caller only. */
  readonly oneTime: OneTimeStore;
  /**
   * What is kept about people, in keyv's namespace "invites-api-people" (people.ts): sessions
   * (`session:HASH`, TTL the idle timeout), `signout:JID`, `notify:JID`.
   */
  readonly people: Keyv;
  /**
   * Rate-limit counts: in memory for the embedded SQLite file (one instance), in the shared store
   * for Redis and PostgreSQL, so that every instance sharing the keys also counts together.
   */
  readonly limiters: LimiterFactory;
  /**
   * Tells of every commit, from any process, where the store can (SQLite): key lookups are then
   * cached between commits.
   */
  readonly changes?: ChangeStamp;
  /** Connects what needs connecting before the first request (Redis). */
  init(): Promise<void>;
  /**
   * A call missed its deadline (deadline.ts): drops the connection it may be stuck on, where
   * the driver would not (Redis).
   */
  stalled?(): void;
  close(): Promise<void>;
}

/**
 * Key records as the store keeps them: keyv's serialized rows, named as keyv names them (`key:ID`).
 * keyv only reads and overwrites; a change to a record that a `delete` or an import may race (a
 * rotation) is made with `replace`, each store's own compare-and-set, so that none is lost and no
 * deleted key comes back.
 */
export interface KeyRecordRows {
  /** The row as stored, byte for byte; undefined when there is none. */
  read(key: string): Promise<string | undefined>;
  /**
   * Writes `next` in place of the row only if it still holds `expected`, in one atomic operation;
   * false when it holds something else or is gone (then nothing is written).
   */
  replace(key: string, expected: string, next: string): Promise<boolean>;
}

/** Builds one limiter for a rate; memory for one instance, a shared store's limiter when keys are shared. */
export type LimiterFactory = (rate: Rate, prefix: string) => RateLimiterAbstract;

/**
 * Tells whether any connection, in any process, has committed to a database since it was last
 * asked: `current()` returns a number that changes on every commit, or undefined when that cannot
 * be told (then the caller must read the store).
 */
export interface ChangeStamp {
  current(): number | undefined;
  close(): void;
}

export interface StoreOptions {
  /** Told why key lookups are not cached, where they could be (SQLite). */
  readonly log?: Logger;
}
