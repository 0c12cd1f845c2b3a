import Keyv from "keyv";
import { PEOPLE_NAMESPACE } from "../people.js";
import type { ServiceStore } from "../store.js";
import type { Usage } from "../usage.js";
import { mapKeyRows } from "./keyRows.js";
import { memoryIdempotency } from "./idempotency.js";
import { memoryLedger } from "./ledger.js";
import { memoryLimiters } from "./limiters.js";
import { memoryOneTime } from "./oneTime.js";
import { memoryQuotas } from "./quotas.js";
import { memoryUsage } from "./usage.js";
import { memoryWebhooks } from "./webhooks.js";

/** The whole store in this process's memory: unit tests, and the contract suite's reference. */
export function openMemory(): ServiceStore {
  const keyRecords = new Keyv({ throwOnErrors: true });
  const counters = new Map<string, Usage>();
  const webhooks = memoryWebhooks();
  return {
    keyRecords,
    keyRows: mapKeyRows(keyRecords),
    usage: memoryUsage(counters),
    ledger: memoryLedger(counters, (deliveries) => webhooks.enqueue(deliveries)),
    webhooks,
    idempotency: memoryIdempotency(),
    quotas: memoryQuotas(),
    oneTime: memoryOneTime(),
    people: new Keyv({ namespace: PEOPLE_NAMESPACE, throwOnErrors: true }),
    limiters: memoryLimiters,
    init: async () => {},
    close: () => keyRecords.disconnect(),
  };
}
