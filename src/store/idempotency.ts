/**
 * What a request sent with an Idempotency-Key answered, kept in the store so that a retry of it, at
 * any instance, gets that answer instead of running again. Each backend claims a key atomically
 * (insert if absent, or if the entry there has expired): of many concurrent requests with one key,
 * across instances, exactly one runs; the others find its entry.
 */

/**
 * An answer as it is given again: status, the headers that matter, the body as sent; or a client
 * error, by its code and message, answered again as the retry asks (JSON or text).
 */
export interface KeptAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface IdempotencyEntry {
  /** A hash of what was asked (method, route, body): a retry must ask the same. */
  readonly fingerprint: string;
  /** The attempt that holds the key (a random id): only it completes or releases the entry. */
  readonly owner: string;
  /** Absent while that attempt runs. */
  readonly answer?: KeptAnswer;
  /** When the entry is gone (ms since the epoch): a running attempt's lease, or the answer's 24 h. */
  readonly expiresAt: number;
}

export interface IdempotencyStore {
  /**
   * Writes `entry` under `key` unless a live one is there (expiresAt > now); undefined when written
   * (the caller runs the request), else the entry that holds the key.
   */
  claim(key: string, entry: IdempotencyEntry, now: number): Promise<IdempotencyEntry | undefined>;
  /** The live entry under `key`, if any. */
  read(key: string, now: number): Promise<IdempotencyEntry | undefined>;
  /** Keeps `answer` until `expiresAt`, if `owner` still holds the key; false when it does not. */
  complete(key: string, owner: string, answer: KeptAnswer, expiresAt: number): Promise<boolean>;
  /** Removes the entry if `owner` holds it, so that a retry runs again. */
  release(key: string, owner: string): Promise<void>;
}
