import type Database from "better-sqlite3";
import type { CountResult, Usage, UsageCounters } from "../usage.js";

interface Row {
  id: string;
  issued: number;
  last_used_at: string | null;
  accounts: number;
  last_registration_at: string | null;
}

export const USAGE_TABLE = "invites_api_usage";

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
      .prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${USAGE_TABLE}')`)
      .all()
      .map((c) => c.name),
  );
  if (!columns.has("accounts")) db.exec(`ALTER TABLE ${USAGE_TABLE} ADD COLUMN accounts INTEGER NOT NULL DEFAULT 0`);
  if (!columns.has("last_registration_at")) {
    db.exec(`ALTER TABLE ${USAGE_TABLE} ADD COLUMN last_registration_at TEXT`);
  }
}

/** The usage table, brought up to date; run in the schema's transaction (index.ts). */
export function createUsageTable(db: Database.Database): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${USAGE_TABLE} (id TEXT PRIMARY KEY, issued INTEGER NOT NULL DEFAULT 0, last_used_at TEXT)`,
  );
  addMissingColumns(db);
}

/**
 * Counters in the SQLite file beside keyv's table. SQLite runs one writer at a time, so a single
 * `UPDATE … WHERE … RETURNING` is atomic across every process that opens the file (CLI included).
 */
export function sqliteUsage(db: Database.Database): UsageCounters {
  const statements = {
    create: db.prepare<[string, number, string | null]>(
      `INSERT INTO ${USAGE_TABLE} (id, issued, last_used_at) VALUES (?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET issued = excluded.issued, last_used_at = excluded.last_used_at,
       accounts = 0, last_registration_at = NULL`,
    ),
    adopt: db.prepare<[string, number, string | null]>(
      `INSERT INTO ${USAGE_TABLE} (id, issued, last_used_at) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING`,
    ),
    add: db.prepare<{ id: string; count: number; at: string; max: number | null }, { issued: number }>(
      `UPDATE ${USAGE_TABLE} SET issued = issued + @count, last_used_at = @at
       WHERE id = @id AND (@max IS NULL OR issued + @count <= @max) RETURNING issued`,
    ),
    exists: db.prepare<[string], { id: string }>(`SELECT id FROM ${USAGE_TABLE} WHERE id = ?`),
    release: db.prepare<[string]>(`UPDATE ${USAGE_TABLE} SET issued = issued - 1 WHERE id = ? AND issued > 0`),
    read: db.prepare<[string], Row>(
      `SELECT id, issued, last_used_at, accounts, last_registration_at FROM ${USAGE_TABLE}
       WHERE id IN (SELECT value FROM json_each(?))`,
    ),
    remove: db.prepare<[string]>(`DELETE FROM ${USAGE_TABLE} WHERE id = ?`),
  };
  return {
    async create(id, usage) {
      statements.create.run(id, usage.invitesIssued, usage.lastUsedAt ?? null);
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
  };
}
