import { ENQUEUE_LUA, enqueueArguments, OUTBOX_KEYS } from "../../webhooks/stores/redisWebhooks.js";
import type { CountResult, RedemptionTotals, Usage, UsageCounters } from "./counters.js";

/** The few commands used here, as node-redis offers them. */
interface RedisClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  hGetAll(key: string): Promise<unknown>;
  hGet(key: string, field: string): Promise<unknown>;
  sMembers(key: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

const counterKey = (id: string) => `invites-api:usage:${id}`;
const cursorKey = (host: string) => `invites-api:redemptions:${host}`;
const HOSTS = "invites-api:redemption-hosts";

// Lua scripts run atomically in Redis: the check and the update cannot be split by another client.
const RESET = `redis.call('DEL', KEYS[1])
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

// KEYS: the host's cursor hash, the set of hosts, each key's counter, then the outbox's keys and
// each delivery's (ENQUEUE_LUA). ARGV: from ('' for none), to, registrations, resets, the number of
// counters, a count and a time per counter, five values per delivery. Counters that are gone
// (deleted keys) are not made again.
const APPLY = `${ENQUEUE_LUA}
local cursor = redis.call('HGET', KEYS[1], 'cursor') or ''
if cursor ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'cursor', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'registrations', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'resets', ARGV[4])
redis.call('SADD', KEYS[2], KEYS[1])
local n = tonumber(ARGV[5])
for i = 0, n - 1 do
  local k, x = 3 + i, 6 + 2 * i
  if redis.call('EXISTS', KEYS[k]) == 1 then
    redis.call('HINCRBY', KEYS[k], 'accounts', ARGV[x])
    local last = redis.call('HGET', KEYS[k], 'lastRegistrationAt')
    if not last or last < ARGV[x + 1] then redis.call('HSET', KEYS[k], 'lastRegistrationAt', ARGV[x + 1]) end
  end
end
local b = 3 + n
enqueue_all(b, 6 + 2 * n, (#KEYS - b - 1) / 3)
return 1`;

/** Counters as Redis hashes, each update one Lua script. */
export function redisCounters(client: RedisClient): UsageCounters {
  const run = (script: string, id: string, args: string[]) =>
    client.eval(script, { keys: [counterKey(id)], arguments: args });
  return {
    async reset(id, usage) {
      await run(RESET, id, [String(usage.invitesIssued), usage.lastUsedAt ?? ""]);
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
    async redemptionCursor(host) {
      const cursor = await client.hGet(cursorKey(host), "cursor");
      return typeof cursor === "string" && cursor !== "" ? cursor : null;
    },
    async applyRedemptions(batch) {
      const entries = [...batch.accounts];
      const outbox = enqueueArguments(batch.deliveries);
      const keys = [
        cursorKey(batch.host),
        HOSTS,
        ...entries.map(([id]) => counterKey(id)),
        ...OUTBOX_KEYS,
        ...outbox.keys,
      ];
      const args = [
        batch.from ?? "",
        batch.to,
        String(batch.registrations),
        String(batch.resets),
        String(entries.length),
      ];
      for (const [, { count, lastAt }] of entries) args.push(String(count), lastAt);
      args.push(...outbox.args);
      return Number(await client.eval(APPLY, { keys, arguments: args })) === 1;
    },
    async redemptionTotals() {
      const hosts = ((await client.sMembers(HOSTS)) as string[]) ?? [];
      const hashes = await Promise.all(hosts.map((key) => client.hGetAll(key)));
      return hosts.map((key, i): RedemptionTotals => {
        const hash = (hashes[i] ?? {}) as Record<string, string>;
        return {
          host: key.slice("invites-api:redemptions:".length),
          registrations: Number(hash.registrations ?? 0),
          resets: Number(hash.resets ?? 0),
        };
      });
    },
  };
}
