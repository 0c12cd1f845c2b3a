import type { CountResult, Usage, UsageCounters } from "../usage.js";

/** The few commands used here, as node-redis offers them. */
interface RedisClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  hGetAll(key: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

export const counterKey = (id: string) => `invites-api:usage:${id}`;

// Lua scripts run atomically in Redis: the check and the update cannot be split by another client.
const CREATE = `redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'issued', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[2]) end
return 1`;
const ADOPT = `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'issued', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[2]) end
return 1`;
const ADD = `if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local issued = tonumber(redis.call('HGET', KEYS[1], 'issued') or '0')
if ARGV[3] ~= '' and issued + tonumber(ARGV[1]) > tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'issued', ARGV[1])
redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[2])
return 1`;
const RELEASE = `local issued = tonumber(redis.call('HGET', KEYS[1], 'issued') or '0')
if issued > 0 then redis.call('HINCRBY', KEYS[1], 'issued', -1) end
return 1`;

/** Counters as Redis hashes, each update one Lua script. */
export function redisUsage(client: RedisClient): UsageCounters {
  const run = (script: string, id: string, args: string[]) =>
    client.eval(script, { keys: [counterKey(id)], arguments: args });
  return {
    async create(id, usage) {
      await run(CREATE, id, [String(usage.invitesIssued), usage.lastUsedAt ?? ""]);
    },
    async adopt(id, usage) {
      await run(ADOPT, id, [String(usage.invitesIssued), usage.lastUsedAt ?? ""]);
    },
    async add(id, count, at, max): Promise<CountResult> {
      const result = Number(await run(ADD, id, [String(count), at, max === undefined ? "" : String(max)]));
      return result === 1 ? "counted" : result === 0 ? "exhausted" : "missing";
    },
    async release(id) {
      await run(RELEASE, id, []);
    },
    async read(ids) {
      const hashes = await Promise.all(ids.map((id) => client.hGetAll(counterKey(id))));
      const found = new Map<string, Usage>();
      ids.forEach((id, i) => {
        const hash = hashes[i] as Record<string, string> | undefined;
        if (!hash || hash.issued === undefined) return;
        found.set(id, {
          invitesIssued: Number(hash.issued),
          ...(hash.lastUsedAt ? { lastUsedAt: hash.lastUsedAt } : {}),
          accountsRegistered: Number(hash.accounts ?? 0),
          ...(hash.lastRegistrationAt ? { lastRegistrationAt: hash.lastRegistrationAt } : {}),
        });
      });
      return found;
    },
    async remove(id) {
      await client.del(counterKey(id));
    },
  };
}
