import { createKeyStore, type KeyStore } from "../keys/keyStore.js";
import { openBackend } from "../store/open.js";
import type { ServiceStore } from "../store/store.js";
import { reasonOf, type Check } from "./report.js";

export interface StoreCheck {
  readonly checks: Check[];
  /** The hosts that have keys; undefined when the store could not be read. */
  readonly hosts?: string[];
}

const KEY_STORE_FIX = "KEY_STORE must name a store this user can read and write (docs/operations.md, Configuration)";

/**
 * Opens KEY_STORE as the CLI does (openStore), but waits at most timeoutMs for it to answer:
 * a Redis client keeps trying to connect until it is closed.
 */
async function openWithin(keyStore: string, timeoutMs: number): Promise<ServiceStore> {
  const store = await openBackend(keyStore);
  let timer: NodeJS.Timeout | undefined;
  let gaveUp = false;
  try {
    const answered = (async () => {
      await store.init();
      // A closed Redis client's connect() may still resolve: asking it then would connect it again.
      if (!gaveUp) await store.keyRecords.has("ping");
    })();
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        gaveUp = true;
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    await Promise.race([answered, late]);
    return store;
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Opens KEY_STORE, reads it (the hosts that have keys) and proves a write. */
export async function checkStore(keyStore: string, timeoutMs: number): Promise<StoreCheck> {
  let store: ServiceStore;
  try {
    store = await openWithin(keyStore, timeoutMs);
  } catch (err) {
    const detail = `cannot be opened: ${reasonOf(err)}`;
    const open: Check = { name: "open", status: "fail", detail, fix: KEY_STORE_FIX };
    return { checks: [open, { name: "write", status: "skip", detail: "not run: the store cannot be opened" }] };
  }
  const keys = createKeyStore(store.keyRecords, store.usage);
  try {
    return await readAndWrite(keys);
  } finally {
    await keys.flush().catch(() => undefined);
    await store.close().catch(() => undefined);
  }
}

/** One step on the store: ok with what it found, or a failure with KEY_STORE's fix. */
async function step<T>(
  name: string,
  work: () => Promise<T>,
  told: (found: T) => string,
  failed: string,
): Promise<{ found?: T; check: Check }> {
  try {
    const found = await work();
    return { found, check: { name, status: "ok", detail: told(found) } };
  } catch (err) {
    return { check: { name, status: "fail", detail: `${failed}: ${reasonOf(err)}`, fix: KEY_STORE_FIX } };
  }
}

async function readAndWrite(keys: KeyStore): Promise<StoreCheck> {
  const hostCount = (hosts: string[]) => (hosts.length === 1 ? "1 host has keys" : `${hosts.length} hosts have keys`);
  const read = await step(
    "read",
    () => keys.hosts(),
    (hosts) => `readable, ${hostCount(hosts)}`,
    "cannot be read",
  );
  const written = "writable (a probe entry written, read back, removed)";
  const write = await step(
    "write",
    () => keys.probeWrite(),
    () => written,
    "cannot be written",
  );
  return { checks: [read.check, write.check], ...(read.found ? { hosts: read.found } : {}) };
}
