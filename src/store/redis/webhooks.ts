import type { Delivery, FairClaim, Subscription, SubscriptionStatus, WebhookStore } from "../webhooks.js";

/** The one command used here, as node-redis offers it: every operation is a Lua script. */
export interface RedisEval {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

const SUBSCRIPTIONS = "invites-api:webhooks";
// Before per-subscription due sets, one for all: claims move what it still holds into them.
const LEGACY_DUE = "invites-api:webhook-due";
const CREATED = "invites-api:webhook-created"; // delivery id, scored by when its event happened
// A subscription's delivery ids, scored by when each may next be tried (the lease's end while taken).
const dueKey = (subscription: string) => `invites-api:webhook-due:${subscription}`;
const deliveryKey = (id: string) => `invites-api:webhook-delivery:${id}`;
const queueKey = (subscription: string) => `invites-api:webhook-queue:${subscription}`;
const statusKey = (subscription: string) => `invites-api:webhook-status:${subscription}`;

// Queues the deliveries whose subscription exists and that are not queued yet. KEYS from `b`:
// subscriptions, created, then per delivery its hash, its subscription's queue and due set. ARGV
// from `a`: five per delivery (id, subscription, payload, created, attempts); `n` deliveries.
export const ENQUEUE_LUA = `local function enqueue_all(b, a, n)
  for i = 0, n - 1 do
    local k, x = b + 2 + 3 * i, a + 5 * i
    if redis.call('HEXISTS', KEYS[b], ARGV[x + 1]) == 1 and redis.call('EXISTS', KEYS[k]) == 0 then
      redis.call('HSET', KEYS[k], 'sub', ARGV[x + 1], 'payload', ARGV[x + 2], 'created', ARGV[x + 3], 'attempts', ARGV[x + 4])
      redis.call('ZADD', KEYS[b + 1], ARGV[x + 3], ARGV[x])
      redis.call('ZADD', KEYS[k + 1], ARGV[x + 3], ARGV[x])
      redis.call('ZADD', KEYS[k + 2], 0, ARGV[x])
    end
  end
end`;
const ENQUEUE = `${ENQUEUE_LUA}
enqueue_all(1, 1, (#KEYS - 2) / 3)
return 1`;

/** The KEYS (after OUTBOX_KEYS) and ARGV of ENQUEUE_LUA for these deliveries. */
export function enqueueArguments(deliveries: readonly Delivery[]): { keys: string[]; args: string[] } {
  const keys: string[] = [];
  const args: string[] = [];
  for (const d of deliveries) {
    keys.push(deliveryKey(d.id), queueKey(d.subscriptionId), dueKey(d.subscriptionId));
    args.push(d.id, d.subscriptionId, d.payload, String(d.createdAt), String(d.attempts));
  }
  return { keys, args };
}
export const OUTBOX_KEYS = [SUBSCRIPTIONS, CREATED];

// Takes due deliveries: their score moves to the end of the lease. Each subscription's oldest due
// ones (up to its room), ranked in their subscription; every first place before any second. KEYS:
// subscriptions, the legacy due set. ARGV: now, until, max, per subscription, then pairs of a
// subscription and how many of its deliveries the caller has in flight.
const CLAIM = `local legacy = redis.call('ZRANGE', KEYS[2], 0, 999, 'WITHSCORES')
for i = 1, #legacy, 2 do
  local sub = redis.call('HGET', 'invites-api:webhook-delivery:' .. legacy[i], 'sub')
  if sub then redis.call('ZADD', 'invites-api:webhook-due:' .. sub, legacy[i + 1], legacy[i]) end
  redis.call('ZREM', KEYS[2], legacy[i])
end
local max, per = tonumber(ARGV[3]), tonumber(ARGV[4])
local busy = {}
for i = 5, #ARGV, 2 do busy[ARGV[i]] = tonumber(ARGV[i + 1]) end
local candidates = {}
for _, sub in ipairs(redis.call('HKEYS', KEYS[1])) do
  local room = math.min(max, per - (busy[sub] or 0))
  if room > 0 then
    local due = redis.call('ZRANGEBYSCORE', 'invites-api:webhook-due:' .. sub, '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, room)
    for j = 1, #due, 2 do table.insert(candidates, { (j - 1) / 2, tonumber(due[j + 1]), due[j], sub }) end
  end
end
table.sort(candidates, function(x, y)
  if x[1] ~= y[1] then return x[1] < y[1] end
  if x[2] ~= y[2] then return x[2] < y[2] end
  return x[3] < y[3]
end)
local taken = {}
for i = 1, math.min(max, #candidates) do
  local id, due = candidates[i][3], 'invites-api:webhook-due:' .. candidates[i][4]
  local d = redis.call('HMGET', 'invites-api:webhook-delivery:' .. id, 'sub', 'payload', 'created', 'attempts')
  if d[1] then
    redis.call('ZADD', due, ARGV[2], id)
    table.insert(taken, { id, d[1], d[2], d[3], d[4] })
  else
    redis.call('ZREM', due, id)
  end
end
return taken`;

// KEYS: its due set, created, the delivery, its queue, its subscription's status, subscriptions. ARGV: id,
// field, time, error ('' when none), retry time ('' to drop it), subscription. A deleted
// subscription gets no status back.
const SETTLE = `if ARGV[5] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('DEL', KEYS[3])
elseif redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'attempts', 1)
  redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
end
if redis.call('HEXISTS', KEYS[6], ARGV[6]) == 1 then
  redis.call('HSET', KEYS[5], ARGV[2], ARGV[3])
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[5], 'lastError', ARGV[4]) end
end
return 1`;

const LIST = `if ARGV[1] == '' then return redis.call('HVALS', KEYS[1]) end
local found = {}
for _, record in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(record).host == ARGV[1] then table.insert(found, record) end
end
return found`;

const ADD = `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

const RECORD = `return redis.call('HGET', KEYS[1], ARGV[1])`;

// KEYS: subscriptions. ARGV: id, the record expected, the next one.
const REPLACE = `if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`;

// KEYS: subscriptions, its queue, its status, its due set, created. The subscription goes first,
// so that nothing is queued for it meanwhile; then its deliveries.
const DELETE = `local existed = redis.call('HDEL', KEYS[1], ARGV[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  redis.call('ZREM', KEYS[5], id)
  redis.call('DEL', 'invites-api:webhook-delivery:' .. id)
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return existed`;

// KEYS: status, queue. The status fields, the backlog and the oldest delivery's time.
const STATUS = `local s = redis.call('HMGET', KEYS[1], 'lastSuccessAt', 'lastFailureAt', 'lastError')
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return { s[1] or '', s[2] or '', s[3] or '', redis.call('ZCARD', KEYS[2]), oldest[2] or '' }`;

const BACKLOG = `local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { redis.call('ZCARD', KEYS[1]), oldest[2] or '' }`;

/**
 * Subscriptions and outbox in Redis, each operation one Lua script (atomic: no other client runs
 * between its commands). A due set's score is when a delivery may next be tried; a claim moves
 * it to the end of the lease. Delivery hashes and due sets are named in scripts that walk other
 * sets (claim, delete): the deployment is one Redis (or a primary), as for the rest of the store.
 */
export function redisWebhooks(client: RedisEval): WebhookStore {
  const run = async (script: string, keys: string[], args: string[]) => client.eval(script, { keys, arguments: args });
  return {
    async addSubscription(subscription) {
      await run(ADD, [SUBSCRIPTIONS], [subscription.id, JSON.stringify(subscription)]);
    },
    async listSubscriptions(host) {
      const records = (await run(LIST, [SUBSCRIPTIONS], [host ?? ""])) as string[];
      return records
        .map((record) => JSON.parse(record) as Subscription)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    },
    async deleteSubscription(id) {
      const existed = await run(DELETE, [SUBSCRIPTIONS, queueKey(id), statusKey(id), dueKey(id), CREATED], [id]);
      return Number(existed) > 0;
    },
    async subscriptionRecord(id) {
      const record = await run(RECORD, [SUBSCRIPTIONS], [id]);
      return typeof record === "string" ? record : undefined;
    },
    async replaceSubscription(id, expected, next) {
      return Number(await run(REPLACE, [SUBSCRIPTIONS], [id, expected, next])) === 1;
    },
    async status(ids) {
      const found = new Map<string, SubscriptionStatus>();
      for (const id of ids) {
        const [success, failure, error, count, oldest] = (await run(STATUS, [statusKey(id), queueKey(id)], [])) as [
          string,
          string,
          string,
          number,
          string,
        ];
        found.set(id, {
          ...(success ? { lastSuccessAt: success } : {}),
          ...(failure ? { lastFailureAt: failure } : {}),
          ...(error ? { lastError: error } : {}),
          backlog: Number(count),
          ...(oldest ? { oldestAt: Number(oldest) } : {}),
        });
      }
      return found;
    },
    async enqueue(deliveries) {
      if (deliveries.length === 0) return;
      const { keys, args } = enqueueArguments(deliveries);
      await run(ENQUEUE, [...OUTBOX_KEYS, ...keys], args);
    },
    async claim(now, leaseMs, max, fair?: FairClaim) {
      const args = [String(now), String(now + leaseMs), String(max), String(fair?.perSubscription ?? max)];
      for (const [subscription, count] of fair?.inFlight ?? []) args.push(subscription, String(count));
      const taken = (await run(CLAIM, [SUBSCRIPTIONS, LEGACY_DUE], args)) as string[][];
      return taken.map(([id, subscriptionId, payload, created, attempts]) => ({
        id: id ?? "",
        subscriptionId: subscriptionId ?? "",
        payload: payload ?? "",
        createdAt: Number(created),
        attempts: Number(attempts),
      }));
    },
    async delivered(delivery, at) {
      const args = [delivery.id, "lastSuccessAt", new Date(at).toISOString(), "", "", delivery.subscriptionId];
      await run(SETTLE, settleKeys(delivery), args);
    },
    async failed(delivery, at, error, retryAt) {
      await run(SETTLE, settleKeys(delivery), [
        delivery.id,
        "lastFailureAt",
        new Date(at).toISOString(),
        error,
        retryAt === null ? "" : String(retryAt),
        delivery.subscriptionId,
      ]);
    },
    async backlog() {
      const [count, oldest] = (await run(BACKLOG, [CREATED], [])) as [number, string];
      return { count: Number(count), ...(oldest ? { oldestAt: Number(oldest) } : {}) };
    },
  };
}

const settleKeys = (d: Delivery) => [
  dueKey(d.subscriptionId),
  CREATED,
  deliveryKey(d.id),
  queueKey(d.subscriptionId),
  statusKey(d.subscriptionId),
  SUBSCRIPTIONS,
];
