import type { IdempotencyEntry, IdempotencyStore } from "../idempotency.js";

/** Idempotency entries in this process's memory: unit tests and the contract suite's reference. */
export function memoryIdempotency(): IdempotencyStore {
  const entries = new Map<string, IdempotencyEntry>();
  const live = (key: string, now: number) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now) entries.delete(key);
    return entry && entry.expiresAt > now ? entry : undefined;
  };
  return {
    async claim(key, entry, now) {
      const found = live(key, now);
      if (found) return found;
      entries.set(key, entry);
      return undefined;
    },
    async read(key, now) {
      return live(key, now);
    },
    async complete(key, owner, answer, expiresAt) {
      const entry = entries.get(key);
      if (entry?.owner !== owner) return false;
      entries.set(key, { ...entry, answer, expiresAt });
      return true;
    },
    async release(key, owner) {
      if (entries.get(key)?.owner === owner) entries.delete(key);
    },
  };
}
