import type { QuotaState, QuotaStore } from "../../people/types.js";

/** The few commands used here, as node-redis offers them. */
interface RedisClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  zRem(key: string, member: string): Promise<unknown>;
}

const usesKey = (subject: string) => `invites-api:quota:${subject}`;

// One sorted set per subject, each use scored by the time it was taken. A script runs whole, no
// other client's command in between: the count and the add cannot be split. The set expires with
// the window of its newest use, so a subject that stops taking leaves nothing behind (PEXPIRE, by
// the caller's clock, which `now` is, rather than PEXPIREAT by Redis's).
const TAKE = `local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local taken = 0
if used < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  used = used + 1
  taken = 1
end
if used == 0 then return {taken, used, false} end
local newest = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
redis.call('PEXPIRE', KEYS[1], math.max(1, newest + window - now))
return {taken, used, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]}`;
const PEEK = `local since = '(' .. (tonumber(ARGV[1]) - tonumber(ARGV[2]))
local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return {0, redis.call('ZCOUNT', KEYS[1], since, '+inf'), oldest[2] or false}`;

function stateOf(reply: unknown, limit: number, windowMs: number): { taken: boolean; state: QuotaState } {
  const [taken, used, oldest] = reply as [number, number, string | null];
  const state = oldest === null ? { limit, used } : { limit, used, nextAt: Number(oldest) + windowMs };
  return { taken: taken === 1, state };
}

/** Quotas in Redis: a take is one script on the subject's sorted set. */
export function redisQuotas(client: RedisClient): QuotaStore {
  return {
    async take(subject, limit, windowMs, now, use) {
      const args = [String(now), String(windowMs), String(limit), use];
      return stateOf(await client.eval(TAKE, { keys: [usesKey(subject)], arguments: args }), limit, windowMs);
    },
    async release(subject, use) {
      await client.zRem(usesKey(subject), use);
    },
    async peek(subject, limit, windowMs, now) {
      const args = [String(now), String(windowMs)];
      return stateOf(await client.eval(PEEK, { keys: [usesKey(subject)], arguments: args }), limit, windowMs).state;
    },
  };
}
