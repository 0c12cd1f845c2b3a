import Keyv from "keyv";
import KeyvRedis, { createClient } from "@keyv/redis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { NAMESPACE, quiet, type KeyBackend } from "./openStore.js";
import { redisCounters } from "./usage/redisCounters.js";
import { redisWebhooks } from "../webhooks/stores/redisWebhooks.js";

/** Keys, usage and rate-limit counts in Redis, shared by every instance that points at it. */
export function openRedis(url: string): KeyBackend {
  // Without the offline queue a command fails at once while Redis is away (503), never hangs.
  const client = createClient({ url, disableOfflineQueue: true });
  client.on("error", () => {});
  const store = new KeyvRedis(client, { namespace: NAMESPACE, throwOnConnectError: true, throwOnErrors: true });
  const keyv = quiet(new Keyv({ store, namespace: NAMESPACE, useKeyPrefix: false, throwOnErrors: true }));
  return {
    keyv,
    usage: redisCounters(client),
    webhooks: redisWebhooks(client),
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
    close: () => keyv.disconnect(),
  };
}
