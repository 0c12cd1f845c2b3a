import { secretMatches } from "./apiKey.js";
import type { KeyRecord } from "./keyRecord.js";

/**
 * A key's rotation: a new secret, while the one it replaces keeps working for a grace period, so
 * that clients move one by one instead of all failing at once. A key holds at most two secrets: a
 * rotation during a grace ends the oldest at once and gives the one it replaces the new grace
 * (whoever rotates again wants the secret before the last one gone, and each request then costs at
 * most two hash comparisons). A grace of 0 ends the replaced secret, and any older one, at once.
 */
export function rotatedRecord(record: KeyRecord, secretHash: string, at: Date, graceMs: number): KeyRecord {
  const { previousSecretHash: _hash, previousSecretUntil: _until, ...rest } = record;
  const until = graceEnd(at, graceMs);
  const previous = until ? { previousSecretHash: record.secretHash, previousSecretUntil: until } : {};
  return { ...rest, secretHash, rotatedAt: at.toISOString(), ...previous };
}

/**
 * When the grace of a secret replaced at `at` ends (ISO); none for a grace of 0. The same for keys
 * and webhooks' signing secrets (src/webhooks/rotation.ts).
 */
export const graceEnd = (at: Date, graceMs: number): string | undefined =>
  graceMs > 0 ? new Date(at.getTime() + graceMs).toISOString() : undefined;

/** `until`, if there is a previous secret and its grace still runs at `now`. */
export const runningGrace = (previous: string | undefined, until: string | undefined, now: Date): string | undefined =>
  previous && until && now.getTime() < Date.parse(until) ? until : undefined;

/** When the previous secret's grace ends, if it still runs at `now`. */
export const graceUntil = (record: KeyRecord, now: Date): string | undefined =>
  runningGrace(record.previousSecretHash, record.previousSecretUntil, now);

/**
 * Whether `secret` opens the key: its current secret, or the previous one while its grace runs.
 * Both are compared every time (the missing one against a dummy hash), so that how long the answer
 * takes tells nothing of a rotation; an unknown key (undefined) costs the same and is refused.
 */
export function acceptsSecret(record: KeyRecord | undefined, secret: string, now: Date): boolean {
  const current = secretMatches(secret, record?.secretHash);
  const previous = secretMatches(secret, record && graceUntil(record, now) ? record.previousSecretHash : undefined);
  return record !== undefined && (current || previous);
}
