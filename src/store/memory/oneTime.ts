import type { OneTimeStore } from "../../people/types.js";

// The oldest entries looked at per put, each dropped if past its time: expired values do not pile up.
const SWEEP = 100;

/** One-time values in this process's memory: unit tests and the contract suite's reference. */
export function memoryOneTime(): OneTimeStore {
  const values = new Map<string, { value: string; expiresAt: number }>();
  return {
    async put(id, value, ttlMs) {
      const now = Date.now();
      let looked = 0;
      for (const [each, entry] of values) {
        if ((looked += 1) > SWEEP) break;
        if (entry.expiresAt <= now) values.delete(each);
      }
      values.delete(id);
      values.set(id, { value, expiresAt: now + ttlMs });
    },
    async take(id) {
      const entry = values.get(id);
      values.delete(id);
      return entry && entry.expiresAt > Date.now() ? entry.value : undefined;
    },
  };
}
