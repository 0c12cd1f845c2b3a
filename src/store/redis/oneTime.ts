import type { OneTimeStore } from "../../people/types.js";

/** The few commands used here, as node-redis offers them. */
interface RedisClient {
  set(key: string, value: string, options: { PX: number }): Promise<unknown>;
  getDel(key: string): Promise<unknown>;
}

const valueKey = (id: string) => `invites-api:once:${id}`;

/** One-time values in Redis: each expires by itself (PX); a take is GETDEL, which one client alone gets. */
export function redisOneTime(client: RedisClient): OneTimeStore {
  return {
    async put(id, value, ttlMs) {
      // PX must be at least 1: a value given no time is gone at once anyway.
      await client.set(valueKey(id), value, { PX: Math.max(1, Math.ceil(ttlMs)) });
    },
    async take(id) {
      const value = await client.getDel(valueKey(id));
      return typeof value === "string" ? value : undefined;
    },
  };
}
