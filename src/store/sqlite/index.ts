import { dirname, resolve } from "node:path";
import Keyv from "keyv";
import { AppError } from "../../errors.js";
import { quiet, NAMESPACE } from "../keyv.js";
import { PEOPLE_NAMESPACE } from "../people.js";
import { memoryLimiters } from "../memory/limiters.js";
import type { ServiceStore, StoreOptions } from "../store.js";
import { ownerOnlyFile, ownerOnlyFolders, realPath } from "./files.js";
import { SqliteKeyRecords } from "./keyRecords.js";
import { sqliteKeyRows } from "./keyRows.js";
import { createIdempotencyTable, sqliteIdempotency } from "./idempotency.js";
import { createLedgerTable, sqliteLedger } from "./ledger.js";
import { createOneTimeTable, sqliteOneTime } from "./oneTime.js";
import { SqlitePeople } from "./people.js";
import { createQuotaTable, sqliteQuotas } from "./quotas.js";
import { createUsageTable, sqliteUsage } from "./usage.js";
import { walStamp } from "./walStamp.js";
import { sqliteWebhooks } from "./webhooks.js";

// How long a statement waits for another process's write (the CLI's) before it fails.
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/** A connection to the file; `undo` closes what was opened before it, when it cannot be made. */
function connect<T>(open: () => T, undo = () => {}): T {
  try {
    return open();
  } catch (err) {
    undo();
    throw new AppError("store_unavailable", "KEY_STORE does not answer", { cause: err });
  }
}

/** The embedded SQLite file (KEY_STORE a path or `sqlite://PATH`), shared with the CLI on one machine. */
export function openSqlite(keyStore: string, { log }: StoreOptions): ServiceStore {
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
  const store = connect(() => new SqliteKeyRecords(path, SQLITE_BUSY_TIMEOUT_MS));
  const peopleStore = connect(
    () => new SqlitePeople(path, SQLITE_BUSY_TIMEOUT_MS),
    () => store.db.close(),
  );
  const keyRecords = quiet(new Keyv({ store, namespace: NAMESPACE, throwOnErrors: true }));
  const people = quiet(new Keyv({ store: peopleStore, namespace: PEOPLE_NAMESPACE, throwOnErrors: true }));
  const changes = walStamp(path, {
    commit: () => store.commitNothing(),
    log: (reason) => log?.info({ reason }, "key lookups not cached"),
  });
  const { db } = store;
  const webhooks = sqliteWebhooks(db);
  db.transaction(() => {
    createUsageTable(db);
    createLedgerTable(db);
    createIdempotencyTable(db);
    createQuotaTable(db);
    createOneTimeTable(db);
  }).immediate();
  return {
    keyRecords,
    keyRows: sqliteKeyRows(db, NAMESPACE),
    usage: sqliteUsage(db),
    ledger: sqliteLedger(db, webhooks.enqueueNow),
    webhooks,
    idempotency: sqliteIdempotency(db),
    quotas: sqliteQuotas(db),
    oneTime: sqliteOneTime(db),
    people,
    limiters: memoryLimiters,
    changes,
    init: async () => {},
    // The database first: closing the stamp's -shm descriptor drops SQLite's locks on that file.
    close: async () => {
      await keyRecords.disconnect();
      await people.disconnect();
      changes.close();
    },
  };
}
