import type Database from "better-sqlite3";
import type { RedemptionBatch, RedemptionLedger, RedemptionTotals } from "../usage.js";
import { USAGE_TABLE } from "./usage.js";

const CURSORS = "invites_api_redemption_cursor";

/** The cursors table; run in the schema's transaction (index.ts), after the usage table. */
export function createLedgerTable(db: Database.Database): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${CURSORS} (host TEXT PRIMARY KEY, cursor TEXT,
     registrations INTEGER NOT NULL DEFAULT 0, resets INTEGER NOT NULL DEFAULT 0)`,
  );
}

/**
 * The ledger in the SQLite file: a batch's cursor, its counts and its webhook deliveries
 * (`enqueueNow`, the outbox's insert in the caller's transaction) commit in one transaction.
 */
export function sqliteLedger(
  db: Database.Database,
  enqueueNow: (deliveries: RedemptionBatch["deliveries"]) => void,
): RedemptionLedger {
  const statements = {
    cursor: db.prepare<[string], { cursor: string | null }>(`SELECT cursor FROM ${CURSORS} WHERE host = ?`),
    openCursor: db.prepare<[string]>(`INSERT INTO ${CURSORS} (host) VALUES (?) ON CONFLICT(host) DO NOTHING`),
    advance: db.prepare<{ host: string; from: string | null; to: string; registrations: number; resets: number }>(
      `UPDATE ${CURSORS} SET cursor = @to, registrations = registrations + @registrations, resets = resets + @resets
       WHERE host = @host AND cursor IS @from`,
    ),
    countAccounts: db.prepare<{ id: string; count: number; at: string }>(
      `UPDATE ${USAGE_TABLE} SET accounts = accounts + @count,
       last_registration_at = max(coalesce(last_registration_at, ''), @at) WHERE id = @id`,
    ),
    totals: db.prepare<[], RedemptionTotals>(`SELECT host, registrations, resets FROM ${CURSORS}`),
  };
  // IMMEDIATE: the write lock is taken at BEGIN, so two processes never both read the old cursor.
  const apply = db.transaction((batch: RedemptionBatch): boolean => {
    // The host's first batch makes its row; a refused batch leaves nothing behind.
    if (batch.from === null) statements.openCursor.run(batch.host);
    const { host, from, to, registrations, resets } = batch;
    if (statements.advance.run({ host, from, to, registrations, resets }).changes !== 1) return false;
    for (const [id, { count, lastAt }] of batch.accounts) statements.countAccounts.run({ id, count, at: lastAt });
    enqueueNow(batch.deliveries);
    return true;
  });
  return {
    async redemptionCursor(host) {
      return statements.cursor.get(host)?.cursor ?? null;
    },
    async applyRedemptions(batch) {
      return apply.immediate(batch);
    },
    async redemptionTotals() {
      return statements.totals.all();
    },
  };
}
