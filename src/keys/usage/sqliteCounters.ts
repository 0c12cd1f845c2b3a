import type Database from "better-sqlite3";
import type { CountResult, Usage, UsageCounters } from "./counters.js";

interface Row {
  id: string;
  issued: number;
  last_used_at: string | null;
}

const TABLE = "invites_api_usage";

const toUsage = (row: Row): Usage => ({
  invitesIssued: row.issued,
  ...(row.last_used_at ? { lastUsedAt: row.last_used_at } : {}),
});

/**
 * Counters in the SQLite file beside keyv's table. SQLite runs one writer at a time, so a single
 * `UPDATE … WHERE … RETURNING` is atomic across every process that opens the file (CLI included).
 */
export function sqliteCounters(db: Database.Database): UsageCounters {
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (id TEXT PRIMARY KEY, issued INTEGER NOT NULL DEFAULT 0, last_used_at TEXT)`,
  );
  const statements = {
    reset: db.prepare<[string, number, string | null]>(
      `INSERT INTO ${TABLE} (id, issued, last_used_at) VALUES (?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET issued = excluded.issued, last_used_at = excluded.last_used_at`,
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
      `SELECT id, issued, last_used_at FROM ${TABLE} WHERE id IN (SELECT value FROM json_each(?))`,
    ),
    remove: db.prepare<[string]>(`DELETE FROM ${TABLE} WHERE id = ?`),
  };
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
  };
}
