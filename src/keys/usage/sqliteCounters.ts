import type Database from "better-sqlite3";
import type { CountResult, RedemptionBatch, RedemptionTotals, Usage, UsageCounters } from "./counters.js";

interface Row {
  id: string;
  issued: number;
  last_used_at: string | null;
  accounts: number;
  last_registration_at: string | null;
}

const TABLE = "invites_api_usage";
const CURSORS = "invites_api_redemption_cursor";

const toUsage = (row: Row): Usage => ({
  invitesIssued: row.issued,
  ...(row.last_used_at ? { lastUsedAt: row.last_used_at } : {}),
  accountsRegistered: row.accounts,
  ...(row.last_registration_at ? { lastRegistrationAt: row.last_registration_at } : {}),
});

/** Columns added after the table first shipped: added to an older file when it is opened. */
function addMissingColumns(db: Database.Database): void {
  const columns = new Set(
    db
      .prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${TABLE}')`)
      .all()
      .map((c) => c.name),
  );
  if (!columns.has("accounts")) db.exec(`ALTER TABLE ${TABLE} ADD COLUMN accounts INTEGER NOT NULL DEFAULT 0`);
  if (!columns.has("last_registration_at")) db.exec(`ALTER TABLE ${TABLE} ADD COLUMN last_registration_at TEXT`);
}

/**
 * Counters in the SQLite file beside keyv's table. SQLite runs one writer at a time, so a single
 * `UPDATE … WHERE … RETURNING` is atomic across every process that opens the file (CLI included).
 */
export function sqliteCounters(
  db: Database.Database,
  enqueueNow: (deliveries: RedemptionBatch["deliveries"]) => void,
): UsageCounters {
  db.transaction(() => {
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${TABLE} (id TEXT PRIMARY KEY, issued INTEGER NOT NULL DEFAULT 0, last_used_at TEXT)`,
    );
    addMissingColumns(db);
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${CURSORS} (host TEXT PRIMARY KEY, cursor TEXT,
       registrations INTEGER NOT NULL DEFAULT 0, resets INTEGER NOT NULL DEFAULT 0)`,
    );
  }).immediate();
  const statements = {
    reset: db.prepare<[string, number, string | null]>(
      `INSERT INTO ${TABLE} (id, issued, last_used_at) VALUES (?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET issued = excluded.issued, last_used_at = excluded.last_used_at,
       accounts = 0, last_registration_at = NULL`,
    ),
    adopt: db.prepare<[string, number, string | null]>(
      `INSERT INTO ${TABLE} (id, issued, last_used_at) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING`,
    ),
    add: db.prepare<{ id: string; count: number; at: string; max: number | null }, { issued: number }>(
      `UPDATE ${TABLE} SET issued = issued + @count, last_used_at = @at
       WHERE id = @id AND (@max IS NULL OR issued + @count <= @max) RETURNING issued`,
    ),
    exists: db.prepare<[string], { id: string }>(`SELECT id FROM ${TABLE} WHERE id = ?`),
    release: db.prepare<[string]>(`UPDATE ${TABLE} SET issued = issued - 1 WHERE id = ? AND issued > 0`),
    read: db.prepare<[string], Row>(
      `SELECT id, issued, last_used_at, accounts, last_registration_at FROM ${TABLE}
       WHERE id IN (SELECT value FROM json_each(?))`,
    ),
    remove: db.prepare<[string]>(`DELETE FROM ${TABLE} WHERE id = ?`),
    cursor: db.prepare<[string], { cursor: string | null }>(`SELECT cursor FROM ${CURSORS} WHERE host = ?`),
    openCursor: db.prepare<[string]>(`INSERT INTO ${CURSORS} (host) VALUES (?) ON CONFLICT(host) DO NOTHING`),
    advance: db.prepare<{ host: string; from: string | null; to: string; registrations: number; resets: number }>(
      `UPDATE ${CURSORS} SET cursor = @to, registrations = registrations + @registrations, resets = resets + @resets
       WHERE host = @host AND cursor IS @from`,
    ),
    countAccounts: db.prepare<{ id: string; count: number; at: string }>(
      `UPDATE ${TABLE} SET accounts = accounts + @count,
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
    async reset(id, usage) {
      statements.reset.run(id, usage.invitesIssued, usage.lastUsedAt ?? null);
    },
    async adopt(id, usage) {
      statements.adopt.run(id, usage.invitesIssued, usage.lastUsedAt ?? null);
    },
    async add(id, count, at, max): Promise<CountResult> {
      if (statements.add.get({ id, count, at, max: max ?? null })) return "counted";
      return statements.exists.get(id) ? "exhausted" : "missing";
    },
    async release(id) {
      statements.release.run(id);
    },
    async read(ids) {
      const rows = statements.read.all(JSON.stringify(ids));
      return new Map(rows.map((row) => [row.id, toUsage(row)]));
    },
    async remove(id) {
      statements.remove.run(id);
    },
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
