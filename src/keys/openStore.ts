import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Keyv from "keyv";
import KeyvSqlite from "@keyv/sqlite";
import { AppError } from "../errors.js";
import { memoryLimiters, type LimiterFactory } from "../limits/rateLimits.js";
import { storeKind } from "./storeUrl.js";
import type { UsageCounters } from "./usage/counters.js";
import { SQLITE_USAGE_TABLE, sqliteCounters } from "./usage/sqliteCounters.js";

export const NAMESPACE = "invites-api";

/**
 * Where keys live, their usage counters beside them, and the rate-limit counts: in memory for the
 * embedded SQLite file (one instance), in the shared store for Redis and PostgreSQL, so that every
 * instance sharing the keys also counts together.
 */
export interface KeyBackend {
  readonly keyv: Keyv;
  readonly usage: UsageCounters;
  readonly limiters: LimiterFactory;
  /** Connects what needs connecting before the first request (Redis). */
  init(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens what KEY_STORE names: a SQLite path (or `sqlite://PATH`), `redis://…`, `postgres://…`.
 * The Redis and PostgreSQL clients are loaded only when used: they weigh ~30 MB of memory.
 */
export async function openBackend(keyStore: string): Promise<KeyBackend> {
  const kind = storeKind(keyStore);
  if (kind === "redis") return (await import("./redisBackend.js")).openRedis(keyStore);
  if (kind === "postgres") return (await import("./postgresBackend.js")).openPostgres(keyStore);
  if (kind === "sqlite") return openSqlite(keyStore);
  // config.ts refuses these first; never let a typo become a file named after a URL.
  throw new AppError("store_unavailable", "KEY_STORE has an unknown scheme");
}

/** Opens the store and checks that it answers: what the service and the CLI start with. */
export async function openKeyBackend(keyStore: string): Promise<KeyBackend> {
  let backend: KeyBackend | undefined;
  try {
    backend = await openBackend(keyStore);
    await backend.init();
    await backend.keyv.has("ping");
    return backend;
  } catch (err) {
    await backend?.close().catch(() => undefined);
    throw err instanceof AppError
      ? err
      : new AppError("store_unavailable", "KEY_STORE does not answer", { cause: err });
  }
}

export function quiet(keyv: Keyv): Keyv {
  // keyv re-emits store errors as events; the rejected promises carry them to callers already.
  keyv.on("error", () => {});
  return keyv;
}

function openSqlite(keyStore: string): KeyBackend {
  const path = resolve(keyStore.replace(/^sqlite:\/\//i, ""));
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
  // The counters' table, made once per process (and again after a failure, e.g. a locked file).
  let tableMade: Promise<unknown> | undefined;
  const query = async (sql: string, ...params: unknown[]): Promise<unknown[]> => {
    tableMade ??= store.query(SQLITE_USAGE_TABLE).catch((err: unknown) => {
      tableMade = undefined;
      throw err;
    });
    await tableMade;
    return (await store.query(sql, ...params)) as unknown[];
  };
  const keyv = quiet(new Keyv({ store, namespace: NAMESPACE, throwOnErrors: true }));
  return {
    keyv,
    usage: sqliteCounters(query),
    limiters: memoryLimiters,
    init: async () => {},
    close: () => keyv.disconnect(),
  };
}
