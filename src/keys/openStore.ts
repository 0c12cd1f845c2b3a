import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Keyv from "keyv";
import KeyvSqlite from "@keyv/sqlite";
import KeyvRedis, { createClient } from "@keyv/redis";
import KeyvPostgres from "@keyv/postgres";
import pg from "pg";
import { RateLimiterPostgres, RateLimiterRedis } from "rate-limiter-flexible";
import { AppError } from "../errors.js";
import { memoryLimiters, type LimiterFactory } from "../limits/rateLimits.js";

const NAMESPACE = "invites-api";
const LIMITS_TABLE = "invites_api_rate_limits";

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

/** Opens what KEY_STORE names: a SQLite path (or `sqlite://PATH`), `redis://…`, `postgres://…`. */
export function openBackend(keyStore: string): KeyBackend {
  if (/^rediss?:\/\//.test(keyStore)) return openRedis(keyStore);
  if (/^postgres(ql)?:\/\//.test(keyStore)) return openPostgres(keyStore);
  return openSqlite(keyStore);
}

/** Only the key store (what the CLI needs). */
export const openKeyv = (keyStore: string): Keyv => openBackend(keyStore).keyv;

function quiet(keyv: Keyv): Keyv {
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

function openRedis(url: string): KeyBackend {
  // Without the offline queue a command fails at once while Redis is away (503), never hangs.
  const client = createClient({ url, disableOfflineQueue: true });
  client.on("error", () => {});
  const store = new KeyvRedis(client, { namespace: NAMESPACE, throwOnConnectError: true, throwOnErrors: true });
  const keyv = quiet(new Keyv({ store, namespace: NAMESPACE, useKeyPrefix: false, throwOnErrors: true }));
  return {
    keyv,
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

// COMPAT: @keyv/postgres keeps its pg pool to itself and listens for none of its errors. A pool
// emits "error" when an idle connection dies (PostgreSQL restarting), and an unheard "error" event
// ends the process. Queries still fail and are answered with 503; only the unheard event is dropped.
let poolErrorsHeard = false;
function hearPoolErrors(): void {
  if (poolErrorsHeard) return;
  poolErrorsHeard = true;
  const emit = pg.Pool.prototype.emit;
  pg.Pool.prototype.emit = function (this: pg.Pool, event: string | symbol, ...args: unknown[]): boolean {
    if (event === "error" && this.listenerCount("error") === 0) return false;
    return emit.call(this, event, ...args);
  };
}

function openPostgres(url: string): KeyBackend {
  hearPoolErrors();
  const store = new KeyvPostgres({ uri: url, iterationLimit: 1_000 });
  const keyv = quiet(new Keyv({ store, namespace: NAMESPACE, throwOnErrors: true }));
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => {});
  return {
    keyv,
    limiters: (rate, keyPrefix) =>
      new RateLimiterPostgres({
        storeClient: pool,
        storeType: "pool",
        tableName: LIMITS_TABLE,
        tableCreated: true,
        points: rate.points,
        duration: rate.durationSeconds,
        keyPrefix,
      }),
    init: async () => {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${LIMITS_TABLE} (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`,
      );
    },
    close: async () => {
      await keyv.disconnect();
      await pool.end();
    },
  };
}
