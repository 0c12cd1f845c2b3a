import { existsSync } from "node:fs";
import { loadStoreConfig } from "../config.js";
import { AppError } from "../errors.js";
import { openStore } from "../store/open.js";
import type { ServiceStore } from "../store/store.js";
import { describeStore, storeName } from "../store/url.js";

type Env = Record<string, string | undefined>;

/**
 * How long one CLI command may wait for the key store, opening included: a Redis client retries
 * an address that does not answer for good, so without a bound `list` would print nothing forever.
 */
export const CLI_STORE_TIMEOUT_MS = 10_000;

export interface StoreNotes {
  /** A line for the person at the terminal (stderr): never a command's output. */
  note?(line: string): void;
}

function deadline<T>(work: Promise<T>, keyStore: string, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new AppError(
            "store_unavailable",
            `the key store (${storeName(keyStore)}) did not answer within ${timeoutMs / 1_000} s`,
          ),
        ),
      timeoutMs,
    );
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * Opens the store KEY_STORE names, runs one command, closes it, all within CLI_STORE_TIMEOUT_MS.
 * A command that writes says (first) which store it writes, and when that is a new SQLite file: a key made
 * in a store the service does not read is refused by the service, with nothing else to say why.
 */
export async function withStore<T>(
  env: Env,
  notes: StoreNotes,
  opts: { writes: boolean },
  work: (store: ServiceStore) => Promise<T>,
  timeoutMs = CLI_STORE_TIMEOUT_MS,
): Promise<T> {
  const { keyStore } = loadStoreConfig(env);
  const where = describeStore(keyStore);
  const isNew = where.kind === "sqlite" && !existsSync(where.location);
  const opening = openStore(keyStore);
  let store: ServiceStore;
  try {
    store = await deadline(opening, keyStore, timeoutMs);
  } catch (err) {
    // Closed whenever it does open, so that the process can end.
    void opening.then((late) => late.close()).catch(() => undefined);
    throw err instanceof AppError && err.message.startsWith("KEY_STORE")
      ? new AppError("store_unavailable", `${err.message}: ${storeName(keyStore)}`, { cause: err.cause })
      : err;
  }
  // Said before the command's own output, so that `create`'s key stays alone on the last line
  // even where stderr and stdout end up in one stream.
  if (opts.writes) {
    notes.note?.(
      isNew
        ? `key store: ${storeName(keyStore)} (a new file: the service must read this same KEY_STORE, e.g. through --config FILE)`
        : `key store: ${storeName(keyStore)}`,
    );
  }
  try {
    return await deadline(work(store), keyStore, timeoutMs);
  } finally {
    await deadline(store.close(), keyStore, timeoutMs).catch(() => undefined);
  }
}
