import type { RedemptionLedger, RedemptionTotals } from "../usage.js";
import { counterKey } from "./usage.js";
import { ENQUEUE_LUA, enqueueArguments, OUTBOX_KEYS } from "./webhooks.js";

/** The few commands used here, as node-redis offers them. */
interface RedisClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  hGetAll(key: string): Promise<unknown>;
  hGet(key: string, field: string): Promise<unknown>;
  sMembers(key: string): Promise<unknown>;
}

const cursorKey = (host: string) => `invites-api:redemptions:${host}`;
const HOSTS = "invites-api:redemption-hosts";

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

/**
 * The ledger in Redis: a batch's cursor, its counts and its webhook deliveries in one Lua script,
 * which no other client's command splits.
 */
export function redisLedger(client: RedisClient): RedemptionLedger {
  return {
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
