import Keyv from "keyv";
import KeyvRedis, { createClient } from "@keyv/redis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { NAMESPACE, quiet } from "../keyv.js";
import { PEOPLE_NAMESPACE } from "../people.js";
import type { ServiceStore } from "../store.js";
import { redisKeyRows } from "./keyRows.js";
import { redisIdempotency } from "./idempotency.js";
import { redisLedger } from "./ledger.js";
import { redisOneTime } from "./oneTime.js";
import { redisQuotas } from "./quotas.js";
import { redisUsage } from "./usage.js";
import { redisWebhooks } from "./webhooks.js";

/** The whole store in Redis, shared by every instance that points at it. */
export function openRedis(url: string): ServiceStore {
  // Without the offline queue a command fails at once while Redis is away (503), never hangs.
  const client = createClient({ url, disableOfflineQueue: true });
  client.on("error", () => {});
  let reconnecting = false;
  const store = new KeyvRedis(client, { namespace: NAMESPACE, throwOnConnectError: true, throwOnErrors: true });
  const keyRecords = quiet(new Keyv({ store, namespace: NAMESPACE, useKeyPrefix: false, throwOnErrors: true }));
  // A store of its own on the same client: keyv gives each store one namespace.
  const peopleStore = new KeyvRedis(client, {
    namespace: PEOPLE_NAMESPACE,
    throwOnConnectError: true,
    throwOnErrors: true,
  });
  const people = quiet(
    new Keyv({ store: peopleStore, namespace: PEOPLE_NAMESPACE, useKeyPrefix: false, throwOnErrors: true }),
  );
  return {
    keyRecords,
    keyRows: redisKeyRows(client, NAMESPACE),
    usage: redisUsage(client),
    ledger: redisLedger(client),
    webhooks: redisWebhooks(client),
    idempotency: redisIdempotency(client),
    quotas: redisQuotas(client),
    oneTime: redisOneTime(client),
    people,
    limiters: (rate, keyPrefix) =>
      new RateLimiterRedis({
        storeClient: client,
        useRedisPackage: true,
        rejectIfRedisNotReady: true,
        points: rate.points,
        duration: rate.durationSeconds,
        keyPrefix,
      }),
    init: async () => {
      if (!client.isOpen) await client.connect();
    },
    // COMPAT: node-redis keeps a command it has written waiting for its reply for as long as the
    // socket lives (its own per-command timeout ends once the command is written, and socketTimeout
    // counts idleness, which each new command resets), so a Redis that stops answering holds the
    // socket until TCP gives up, minutes later. A new connection instead: commands fail at once
    // (offline) until it is ready, and it is ready as soon as Redis answers again.
    stalled: () => {
      if (reconnecting || !client.isOpen) return;
      reconnecting = true;
      client.destroy();
      // At once, before anything sees the client closed (keyv would connect it itself).
      client
        .connect()
        .catch(() => undefined)
        .finally(() => (reconnecting = false));
    },
    // The one client, people's store's too.
    close: () => keyRecords.disconnect(),
  };
}
