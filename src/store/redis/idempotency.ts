import type { IdempotencyEntry, IdempotencyStore, KeptAnswer } from "../idempotency.js";

/** The few commands used here, as node-redis offers them. */
interface RedisClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  get(key: string): Promise<unknown>;
}

const entryKey = (key: string) => `invites-api:idempotency:${key}`;

// Redis drops each entry at its time (PXAT): a claim is a SET NX, which only an absent key takes.
// The value is the entry as JSON; its owner is compared inside the scripts, which no other client splits.
const CLAIM = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])`;
const COMPLETE = `local found = redis.call('GET', KEYS[1])
if not found or cjson.decode(found).owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return 1`;
const RELEASE = `local found = redis.call('GET', KEYS[1])
if found and cjson.decode(found).owner == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

const entryOf = (value: unknown): IdempotencyEntry | undefined =>
  typeof value === "string" ? (JSON.parse(value) as IdempotencyEntry) : undefined;

/** Idempotency entries in Redis, each a string that expires by itself. */
export function redisIdempotency(client: RedisClient): IdempotencyStore {
  return {
    async claim(key, entry, now) {
      // A time already past would make SET fail: such an entry is not live anyway.
      const at = String(Math.max(entry.expiresAt, now + 1));
      return entryOf(await client.eval(CLAIM, { keys: [entryKey(key)], arguments: [JSON.stringify(entry), at] }));
    },
    async read(key, now) {
      const entry = entryOf(await client.get(entryKey(key)));
      return entry && entry.expiresAt > now ? entry : undefined;
    },
    async complete(key, owner, answer: KeptAnswer, expiresAt) {
      const found = entryOf(await client.get(entryKey(key)));
      if (!found) return false;
      const value = JSON.stringify({ ...found, answer, expiresAt });
      const done = await client.eval(COMPLETE, {
        keys: [entryKey(key)],
        arguments: [owner, value, String(Math.max(expiresAt, Date.now() + 1))],
      });
      return Number(done) === 1;
    },
    async release(key, owner) {
      await client.eval(RELEASE, { keys: [entryKey(key)], arguments: [owner] });
    },
  };
}
