import { AppError } from "../errors.js";
import type { Logger } from "../log.js";
import { bounded, storeDeadline, type StoreDeadline } from "./deadline.js";
import { openSqlite } from "./sqlite/index.js";
import type { ServiceStore, StoreOptions } from "./store.js";
import { storeKind } from "./url.js";

/**
 * Opens what KEY_STORE names: a SQLite path (or `sqlite://PATH`), `redis://…`, `postgres://…`.
 * The Redis and PostgreSQL clients are loaded only when used: they weigh ~30 MB of memory.
 */
export async function openBackend(keyStore: string, options: StoreOptions = {}): Promise<ServiceStore> {
  const kind = storeKind(keyStore);
  if (kind === "redis") return (await import("./redis/index.js")).openRedis(keyStore);
  if (kind === "postgres") return (await import("./postgres/index.js")).openPostgres(keyStore);
  if (kind === "sqlite") return openSqlite(keyStore, options);
  // config.ts refuses these first; never let a typo become a file named after a URL.
  throw new AppError("store_unavailable", "KEY_STORE has an unknown scheme");
}

/** Opens the store and checks that it answers: what the service and the CLI start with. */
export async function openStore(keyStore: string, options: StoreOptions = {}): Promise<ServiceStore> {
  let store: ServiceStore | undefined;
  try {
    store = await openBackend(keyStore, options);
    await store.init();
    await store.keyRecords.has("ping");
    return store;
  } catch (err) {
    await store?.close().catch(() => undefined);
    throw err instanceof AppError
      ? err
      : new AppError("store_unavailable", "KEY_STORE does not answer", { cause: err });
  }
}

/** Every part of a store bounded by one deadline. */
export function boundedStore(store: ServiceStore, deadline: StoreDeadline): ServiceStore {
  return {
    ...store,
    keyRecords: bounded(store.keyRecords, deadline),
    keyRows: bounded(store.keyRows, deadline),
    usage: bounded(store.usage, deadline),
    ledger: bounded(store.ledger, deadline),
    webhooks: bounded(store.webhooks, deadline),
    idempotency: bounded(store.idempotency, deadline),
    quotas: bounded(store.quotas, deadline),
    oneTime: bounded(store.oneTime, deadline),
    people: bounded(store.people, deadline),
    limiters: (rate, prefix) => bounded(store.limiters(rate, prefix), deadline),
    init: () => deadline.run(store.init()),
    close: () => deadline.run(store.close()),
  };
}

/**
 * Opens KEY_STORE for the service (openStore) within the deadline, and bounds every later
 * call. A store that opens after the deadline is closed then.
 */
export async function openBoundedStore(keyStore: string, log: Logger): Promise<ServiceStore> {
  let opened: ServiceStore | undefined;
  const deadline = storeDeadline(keyStore, log, { late: () => opened?.stalled?.() });
  const opening = openStore(keyStore, { log }).then((store) => (opened = store));
  try {
    return boundedStore(await deadline.run(opening), deadline);
  } catch (err) {
    void opening.then((late) => late.close()).catch(() => undefined);
    throw err;
  }
}
