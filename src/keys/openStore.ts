import { chmodSync, closeSync, constants, mkdirSync, openSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import Keyv from "keyv";
import { AppError } from "../errors.js";
import type { Logger } from "../log.js";
import { memoryLimiters, type LimiterFactory } from "../limits/rateLimits.js";
import { storeKind } from "./storeUrl.js";
import type { UsageCounters } from "./usage/counters.js";
import { SqliteStore } from "./sqliteStore.js";
import { sqliteCounters } from "./usage/sqliteCounters.js";
import { sqliteWebhooks } from "../webhooks/stores/sqliteWebhooks.js";
import type { WebhookStore } from "../webhooks/webhookStore.js";
import { walStamp, type ChangeStamp } from "./walStamp.js";

// How long a statement waits for another process's write (the CLI's) before it fails.
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

export const NAMESPACE = "invites-api";

/**
 * Where keys live, their usage counters beside them, and the rate-limit counts: in memory for the
 * embedded SQLite file (one instance), in the shared store for Redis and PostgreSQL, so that every
 * instance sharing the keys also counts together.
 */
export interface KeyBackend {
  readonly keyv: Keyv;
  readonly usage: UsageCounters;
  /** Webhook subscriptions and their outbox (webhooks/). */
  readonly webhooks: WebhookStore;
  readonly limiters: LimiterFactory;
  /**
   * Tells of every commit, from any process, where the store can (SQLite): key lookups are then
   * cached between commits.
   */
  readonly changes?: ChangeStamp;
  /** Connects what needs connecting before the first request (Redis). */
  init(): Promise<void>;
  /**
   * A call missed its deadline (storeDeadline.ts): drops the connection it may be stuck on, where
   * the driver would not (Redis).
   */
  stalled?(): void;
  close(): Promise<void>;
}

export interface BackendOptions {
  /** Told why key lookups are not cached, where they could be (SQLite). */
  readonly log?: Logger;
}

/**
 * Opens what KEY_STORE names: a SQLite path (or `sqlite://PATH`), `redis://…`, `postgres://…`.
 * The Redis and PostgreSQL clients are loaded only when used: they weigh ~30 MB of memory.
 */
export async function openBackend(keyStore: string, options: BackendOptions = {}): Promise<KeyBackend> {
  const kind = storeKind(keyStore);
  if (kind === "redis") return (await import("./redisBackend.js")).openRedis(keyStore);
  if (kind === "postgres") return (await import("./postgresBackend.js")).openPostgres(keyStore);
  if (kind === "sqlite") return openSqlite(keyStore, options);
  // config.ts refuses these first; never let a typo become a file named after a URL.
  throw new AppError("store_unavailable", "KEY_STORE has an unknown scheme");
}

/** Opens the store and checks that it answers: what the service and the CLI start with. */
export async function openKeyBackend(keyStore: string, options: BackendOptions = {}): Promise<KeyBackend> {
  let backend: KeyBackend | undefined;
  try {
    backend = await openBackend(keyStore, options);
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

/**
 * The file's path with every symlink resolved, as SQLite resolves it; also for a file yet to be
 * made, which SQLite makes where a symlink points. Its -wal and -shm files are beside that path.
 */
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch (err) {
    // A cycle of links, a folder that cannot be read: SQLite tells when it opens the file.
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") return path;
  }
  try {
    return realPath(resolve(dirname(path), readlinkSync(path)));
  } catch {
    // Not a link: the file is yet to be made.
    return join(realPath(dirname(path)), basename(path));
  }
}

/**
 * Creates the store's folder and any missing parents readable by their owner only, whatever the
 * umask: the file holds webhook signing secrets. Folders that exist are left as they are.
 */
function ownerOnlyFolders(folder: string): void {
  const first = mkdirSync(folder, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  for (let made = folder; made.length >= first.length; made = dirname(made)) chmodSync(made, 0o700);
}

/**
 * Creates the database file readable and writable by its owner only, whatever the umask (SQLite
 * gives its -wal and -shm files the database file's mode). A file that exists keeps its mode: an
 * operator may have shared it with a group on purpose.
 */
function ownerOnlyFile(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
  } catch {
    return; // it exists, or SQLite will say why it cannot be opened
  }
  try {
    chmodSync(path, 0o600);
  } finally {
    closeSync(fd);
  }
}

function openSqlite(keyStore: string, { log }: BackendOptions): KeyBackend {
  const given = resolve(keyStore.replace(/^sqlite:\/\//i, ""));
  try {
    ownerOnlyFolders(dirname(given));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new AppError("store_unavailable", `KEY_STORE: cannot create the folder ${dirname(given)} (${code})`);
  }
  // The same path for SQLite and for the stamp, which must read the -shm file SQLite writes.
  const path = realPath(given);
  ownerOnlyFile(path);
  let store: SqliteStore;
  try {
    store = new SqliteStore(path, SQLITE_BUSY_TIMEOUT_MS);
  } catch (err) {
    throw new AppError("store_unavailable", "KEY_STORE does not answer", { cause: err });
  }
  const keyv = quiet(new Keyv({ store, namespace: NAMESPACE, throwOnErrors: true }));
  const changes = walStamp(path, {
    commit: () => store.commitNothing(),
    log: (reason) => log?.info({ reason }, "key lookups not cached"),
  });
  const webhooks = sqliteWebhooks(store.db);
  return {
    keyv,
    usage: sqliteCounters(store.db, webhooks.enqueueNow),
    webhooks,
    limiters: memoryLimiters,
    changes,
    init: async () => {},
    // The database first: closing the stamp's -shm descriptor drops SQLite's locks on that file.
    close: async () => {
      await keyv.disconnect();
      changes.close();
    },
  };
}
