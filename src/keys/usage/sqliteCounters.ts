import type { CountResult, Usage, UsageCounters } from "./counters.js";

type Query = (sql: string, ...params: unknown[]) => Promise<unknown[]>;
interface Row {
  id: string;
  issued: number;
  last_used_at: string | null;
}

const TABLE = "invites_api_usage";

export const SQLITE_USAGE_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (id TEXT PRIMARY KEY, issued INTEGER NOT NULL DEFAULT 0, last_used_at TEXT)`;

const toUsage = (row: Row): Usage => ({
  invitesIssued: row.issued,
  ...(row.last_used_at ? { lastUsedAt: row.last_used_at } : {}),
});

/**
 * Counters in the SQLite file beside keyv's table. SQLite runs one writer at a time, so a single
 * `UPDATE … WHERE … RETURNING` is atomic across every process that opens the file (CLI included).
 */
export function sqliteCounters(query: Query): UsageCounters {
  return {
    async reset(id, usage) {
      await query(
        `INSERT INTO ${TABLE} (id, issued, last_used_at) VALUES (?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET issued = excluded.issued, last_used_at = excluded.last_used_at`,
        id,
        usage.invitesIssued,
        usage.lastUsedAt ?? null,
      );
    },
    async adopt(id, usage) {
      await query(
        `INSERT INTO ${TABLE} (id, issued, last_used_at) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING`,
        id,
        usage.invitesIssued,
        usage.lastUsedAt ?? null,
      );
    },
    async add(id, count, at, max): Promise<CountResult> {
      const updated = await query(
        `UPDATE ${TABLE} SET issued = issued + ?, last_used_at = ?
         WHERE id = ? AND (? IS NULL OR issued + ? <= ?) RETURNING issued`,
        count,
        at,
        id,
        max ?? null,
        count,
        max ?? null,
      );
      if (updated.length > 0) return "counted";
      const exists = await query(`SELECT 1 FROM ${TABLE} WHERE id = ?`, id);
      return exists.length > 0 ? "exhausted" : "missing";
    },
    async release(id) {
      await query(`UPDATE ${TABLE} SET issued = issued - 1 WHERE id = ? AND issued > 0`, id);
    },
    async read(ids) {
      const rows = (await query(
        `SELECT id, issued, last_used_at FROM ${TABLE} WHERE id IN (SELECT value FROM json_each(?))`,
        JSON.stringify(ids),
      )) as Row[];
      return new Map(rows.map((row) => [row.id, toUsage(row)]));
    },
    async remove(id) {
      await query(`DELETE FROM ${TABLE} WHERE id = ?`, id);
    },
  };
}
