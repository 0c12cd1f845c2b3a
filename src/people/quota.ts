import { randomUUID } from "node:crypto";
import { AppError } from "../errors.js";
import type { PersonCaller, QuotaStore } from "./types.js";

/**
 * Runs `work` (asking Prosody for one invite) within the person's quota: a place is taken in the
 * store first, so that no number of requests or instances passes it, and given back when no invite
 * came of it. Past the quota: 429 quota_exhausted, saying when the next place frees (`next_at`,
 * and Retry-After). Keys, and persons whose role has no quota, are not counted here.
 */
export async function withinQuota<T>(
  quotas: QuotaStore | undefined,
  person: PersonCaller | undefined,
  now: () => Date,
  work: () => Promise<T>,
): Promise<T> {
  const quota = person?.quota;
  if (!person || !quota) return work();
  if (!quotas) throw new AppError("store_unavailable", "no quota store to count a person's invites in");
  const use = randomUUID();
  const at = now().getTime();
  const windowMs = quota.durationSeconds * 1_000;
  const { taken, state } = await quotas.take(person.jid, quota.points, windowMs, at, use);
  if (!taken) {
    const nextAt = state.nextAt === undefined ? null : new Date(state.nextAt).toISOString();
    throw new AppError(
      "quota_exhausted",
      `${state.used} of ${state.limit} invites used; the next place frees at ${nextAt ?? "once one is given back"}`,
      {
        details: { next_at: nextAt },
        ...(state.nextAt === undefined
          ? {}
          : { retryAfterSeconds: Math.max(1, Math.ceil((state.nextAt - at) / 1_000)) }),
      },
    );
  }
  try {
    return await work();
  } catch (err) {
    await quotas.release(person.jid, use).catch(() => undefined);
    throw err;
  }
}
