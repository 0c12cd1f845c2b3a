import type pg from "pg";
import type { CountResult, Usage, UsageCounters } from "./counters.js";

interface Row {
  id: string;
  issued: string;
  last_used_at: string | null;
}

const TABLE = "invites_api_usage";

export const POSTGRES_USAGE_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (id varchar(255) PRIMARY KEY, issued bigint NOT NULL DEFAULT 0, last_used_at text)`;

const toUsage = (row: Row): Usage => ({
  invitesIssued: Number(row.issued),
  ...(row.last_used_at ? { lastUsedAt: row.last_used_at } : {}),
});

/**
 * Counters in a PostgreSQL table: `UPDATE … WHERE … RETURNING` locks the row, so instances
 * counting at once are serialized by the server and a quota is never passed.
 */
export function postgresCounters(pool: pg.Pool): UsageCounters {
  return {
    async reset(id, usage) {
      await pool.query(
        `INSERT INTO ${TABLE} (id, issued, last_used_at) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET issued = excluded.issued, last_used_at = excluded.last_used_at`,
        [id, usage.invitesIssued, usage.lastUsedAt ?? null],
      );
    },
    async adopt(id, usage) {
      await pool.query(
        `INSERT INTO ${TABLE} (id, issued, last_used_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
        [id, usage.invitesIssued, usage.lastUsedAt ?? null],
      );
    },
    async add(id, count, at, max): Promise<CountResult> {
      const updated = await pool.query(
        `UPDATE ${TABLE} SET issued = issued + $1, last_used_at = $2
         WHERE id = $3 AND ($4::bigint IS NULL OR issued + $1 <= $4::bigint) RETURNING issued`,
        [count, at, id, max ?? null],
      );
      if ((updated.rowCount ?? 0) > 0) return "counted";
      const exists = await pool.query(`SELECT 1 FROM ${TABLE} WHERE id = $1`, [id]);
      return (exists.rowCount ?? 0) > 0 ? "exhausted" : "missing";
    },
    async release(id) {
      await pool.query(`UPDATE ${TABLE} SET issued = issued - 1 WHERE id = $1 AND issued > 0`, [id]);
    },
    async read(ids) {
      const result = await pool.query<Row>(
        `SELECT id, issued, last_used_at FROM ${TABLE} WHERE id = ANY($1::varchar[])`,
        [ids],
      );
      return new Map(result.rows.map((row) => [row.id, toUsage(row)]));
    },
    async remove(id) {
      await pool.query(`DELETE FROM ${TABLE} WHERE id = $1`, [id]);
    },
  };
}
