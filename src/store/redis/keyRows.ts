import type { KeyRecordRows } from "../store.js";

/** The commands used here, as node-redis offers them. */
interface RedisClient {
  get(key: string): Promise<string | null>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

// Run atomically in Redis: nothing runs between the compare and the write. KEEPTTL: a record keyv
// wrote with an expiry keeps it.
const REPLACE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1`;

/** Key records' rows as @keyv/redis keeps them: strings under `NAMESPACE::key`. */
export function redisKeyRows(client: RedisClient, namespace: string): KeyRecordRows {
  const name = (key: string) => `${namespace}::${key}`;
  return {
    async read(key) {
      return (await client.get(name(key))) ?? undefined;
    },
    async replace(key, expected, next) {
      return Number(await client.eval(REPLACE, { keys: [name(key)], arguments: [expected, next] })) === 1;
    },
  };
}
