import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Keyv from "keyv";
import KeyvSqlite from "@keyv/sqlite";
import { AppError } from "../errors.js";
import { memoryLimiters, type LimiterFactory } from "../limits/rateLimits.js";

export const NAMESPACE = "invites-api";

/**
 * Where keys live, and where rate-limit counts live beside them: in memory for the embedded
 * SQLite file (one instance), in the shared store for Redis and PostgreSQL, so that every instance
 * sharing the keys also counts together.
 */
export interface KeyBackend {
  readonly keyv: Keyv;
  readonly limiters: LimiterFactory;
  /** Prepares what the limiters need (a table in PostgreSQL); the service awaits it at start. */
  init(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens what KEY_STORE names: a SQLite path (or `sqlite://PATH`), `redis://…`, `postgres://…`.
 * The Redis and PostgreSQL clients are loaded only when used: they weigh ~30 MB of memory.
 */
export async function openBackend(keyStore: string): Promise<KeyBackend> {
  if (/^rediss?:\/\//.test(keyStore)) return (await import("./redisBackend.js")).openRedis(keyStore);
  if (/^postgres(ql)?:\/\//.test(keyStore)) return (await import("./postgresBackend.js")).openPostgres(keyStore);
  return openSqlite(keyStore);
}

/** Only the key store (what the CLI needs). */
export const openKeyv = async (keyStore: string): Promise<Keyv> => (await openBackend(keyStore)).keyv;

export function quiet(keyv: Keyv): Keyv {
  // keyv re-emits store errors as events; the rejected promises carry them to callers already.
  keyv.on("error", () => {});
  return keyv;
}

function openSqlite(keyStore: string): KeyBackend {
  const path = resolve(keyStore.replace(/^sqlite:\/\//, ""));
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new AppError("store_unavailable", `KEY_STORE: cannot create the folder ${dirname(path)} (${code})`);
  }
  const store = new KeyvSqlite({ uri: `sqlite://${path}`, busyTimeout: 5_000, iterationLimit: 1_000 });
  // Write-ahead logging: every invite updates its key's usage, and WAL turns each of those writes
  // from a journal rewrite with two fsyncs into an append. The CLI and the service share the file.
  void store.query("PRAGMA journal_mode = WAL").catch(() => undefined);
  void store.query("PRAGMA synchronous = NORMAL").catch(() => undefined);
  const keyv = quiet(new Keyv({ store, namespace: NAMESPACE, throwOnErrors: true }));
  return { keyv, limiters: memoryLimiters, init: async () => {}, close: () => keyv.disconnect() };
}
