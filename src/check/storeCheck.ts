import { resolve } from "node:path";
import { createKeyStore, type KeyStore } from "../keys/keyStore.js";
import { openBackend, type KeyBackend } from "../keys/openStore.js";
import { storeKind } from "../keys/storeUrl.js";
import { reasonOf, type Check } from "./report.js";

/**
 * Query parameters that carry a credential: node-postgres reads `?password=` and `?sslpassword=`
 * from a connection string as readily as `user:password@`; anything named like a secret is masked too.
 */
const CREDENTIAL_PARAM = /pass|secret|token/i;

/** The store's kind and where it is, as it may be printed: every credential in the URL is masked. */
export function describeStore(keyStore: string): { kind: string; location: string } {
  const kind = storeKind(keyStore) ?? "unknown";
  if (kind === "sqlite") return { kind, location: resolve(keyStore.replace(/^sqlite:\/\//i, "")) };
  try {
    const url = new URL(keyStore);
    if (url.password) url.password = "****";
    for (const name of [...url.searchParams.keys()]) {
      if (CREDENTIAL_PARAM.test(name)) url.searchParams.set(name, "****");
    }
    return { kind, location: url.toString() };
  } catch {
    return { kind, location: "(a URL that cannot be read)" };
  }
}

/** Every credential a store URL holds (its password, credential parameters), as written and decoded, for redact(). */
export function storeSecrets(keyStore: string): string[] {
  let url: URL;
  try {
    url = new URL(keyStore);
  } catch {
    return [];
  }
  const written = [
    url.password,
    ...url.search
      .slice(1)
      .split("&")
      .map((pair) => pair.split("="))
      .filter(([name = "", value]) => CREDENTIAL_PARAM.test(name) && value)
      .map(([, value = ""]) => value),
  ].filter((value) => value.length > 0);
  const decoded = (value: string) => {
    try {
      return decodeURIComponent(value.replaceAll("+", " "));
    } catch {
      return value;
    }
  };
  return [...new Set(written.flatMap((value) => [value, decoded(value)]))];
}

export interface StoreCheck {
  readonly checks: Check[];
  /** The hosts that have keys; undefined when the store could not be read. */
  readonly hosts?: string[];
}

const KEY_STORE_FIX = "KEY_STORE must name a store this user can read and write (README, Configuration)";

/**
 * Opens KEY_STORE as the CLI does (openKeyBackend), but waits at most timeoutMs for it to answer:
 * a Redis client keeps trying to connect until it is closed.
 */
async function openWithin(keyStore: string, timeoutMs: number): Promise<KeyBackend> {
  const backend = await openBackend(keyStore);
  let timer: NodeJS.Timeout | undefined;
  let gaveUp = false;
  try {
    const answered = (async () => {
      await backend.init();
      // A closed Redis client's connect() may still resolve: asking it then would connect it again.
      if (!gaveUp) await backend.keyv.has("ping");
    })();
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        gaveUp = true;
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    await Promise.race([answered, late]);
    return backend;
  } catch (err) {
    await backend.close().catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Opens KEY_STORE, reads it (the hosts that have keys) and proves a write. */
export async function checkStore(keyStore: string, timeoutMs: number): Promise<StoreCheck> {
  let backend: KeyBackend;
  try {
    backend = await openWithin(keyStore, timeoutMs);
  } catch (err) {
    const detail = `cannot be opened: ${reasonOf(err)}`;
    const open: Check = { name: "open", status: "fail", detail, fix: KEY_STORE_FIX };
    return { checks: [open, { name: "write", status: "skip", detail: "not run: the store cannot be opened" }] };
  }
  const keys = createKeyStore(backend.keyv, backend.usage);
  try {
    return await readAndWrite(keys);
  } finally {
    await keys.flush().catch(() => undefined);
    await backend.close().catch(() => undefined);
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
