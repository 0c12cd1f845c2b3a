import { AppError } from "../errors.js";
import type { KeyInfo, KeyStore } from "../keys/keyStore.js";

/**
 * Runs `work` (asking Prosody for an invite) counted against the key. A quota is counted before
 * Prosody is asked, so that concurrent requests cannot overrun it, and given back if no invite
 * came of it; other keys' usage is counted after, in batches.
 */
export async function countedInvite<T>(
  keys: KeyStore,
  apiKey: KeyInfo,
  now: () => Date,
  work: () => Promise<T>,
): Promise<T> {
  if (apiKey.maxInvites === undefined) {
    const result = await work();
    keys.recordInvite(apiKey.id, now());
    return result;
  }
  const reserved = await keys.reserveInvite(apiKey.id, apiKey.maxInvites, now());
  if (reserved === "exhausted") throw new AppError("key_exhausted", `key ${apiKey.id} reached its max-invites`);
  if (reserved === "gone") throw new AppError("invalid_key", `key ${apiKey.id} was deleted`);
  try {
    return await work();
  } catch (err) {
    await keys.releaseInvite(apiKey.id).catch(() => undefined);
    throw err;
  }
}

/** The key's --max-ttl bounds every invite it makes, and is their ttl when the client names none. */
export function boundedTtl(apiKey: KeyInfo, requested: number | undefined): number | undefined {
  const max = apiKey.maxTtlSeconds;
  if (max === undefined) return requested;
  if (requested === undefined) return max;
  if (requested > max) throw new AppError("bad_request", `ttl must be at most ${max} seconds for this API key`);
  return requested;
}
