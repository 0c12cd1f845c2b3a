import ms from "ms";
import type { Rate } from "./keyRecord.js";

/** The longest duration anything takes: a key's expiry, a rate's period. Past it is surely a typo. */
export const MAX_DURATION_MS = ms("100y");
/** The most points a rate counts, and the most invites --max-invites allows. */
export const MAX_COUNT = 1_000_000_000;

const DURATION_FORM = /^\s*\d+(\.\d+)?\s*[a-z]*\s*$/i;

/** "90s", "12h", "30d" (anything the `ms` package reads) to milliseconds; undefined if not a positive duration of at most 100 years. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_FORM.test(text)) return undefined;
  const value = ms(text.trim() as ms.StringValue);
  return Number.isFinite(value) && value > 0 && value <= MAX_DURATION_MS ? value : undefined;
}

/** How long a rotated secret keeps working when `rotate` is given no --grace: a day for clients to move. */
export const DEFAULT_GRACE = "24h";
/** The longest grace: a secret rotated away because it leaked should not keep working for months. */
export const MAX_GRACE_MS = ms("30d");

/** A rotation's grace: 0 (`0`, `0s`: the old secret ends at once) or a duration up to MAX_GRACE_MS. */
export function parseGrace(text: string): number | undefined {
  if (DURATION_FORM.test(text) && ms(text.trim() as ms.StringValue) === 0) return 0;
  const value = parseDuration(text);
  return value !== undefined && value <= MAX_GRACE_MS ? value : undefined;
}

/** "10/1m", "100/1d", "5/30s" to a Rate of whole seconds; undefined if malformed or out of range. */
export function parseRate(text: string): Rate | undefined {
  const match = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(text);
  if (!match) return undefined;
  const points = Number(match[1]);
  const duration = parseDuration(match[2] ?? "");
  if (!Number.isSafeInteger(points) || points < 1 || points > MAX_COUNT) return undefined;
  if (duration === undefined || duration < 1_000) return undefined;
  return { points, durationSeconds: Math.round(duration / 1_000) };
}

export const formatRate = (rate: Rate): string => `${rate.points}/${ms(rate.durationSeconds * 1_000)}`;
