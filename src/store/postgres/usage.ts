import type pg from "pg";
import type { CountResult, Usage, UsageCounters } from "../usage.js";

interface Row {
  id: string;
  issued: string;
  last_used_at: string | null;
  accounts: string;
  last_registration_at: string | null;
}

export const USAGE_TABLE = "invites_api_usage";

/** Run under the schema lock at start-up (index.ts); the ALTERs bring an older table up to date. */
export const POSTGRES_USAGE_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${USAGE_TABLE} (id varchar(255) PRIMARY KEY, issued bigint NOT NULL DEFAULT 0, last_used_at text)`,
  `ALTER TABLE ${USAGE_TABLE} ADD COLUMN IF NOT EXISTS accounts bigint NOT NULL DEFAULT 0`,
  `ALTER TABLE ${USAGE_TABLE} ADD COLUMN IF NOT EXISTS last_registration_at text`,
];

const toUsage = (row: Row): Usage => ({
  invitesIssued: Number(row.issued),
  ...(row.last_used_at ? { lastUsedAt: row.last_used_at } : {}),
  accountsRegistered: Number(row.accounts),
  ...(row.last_registration_at ? { lastRegistrationAt: row.last_registration_at } : {}),
});

/**
 * Counters in a PostgreSQL table: `UPDATE … WHERE … RETURNING` locks the row, so instances
 * counting at once are serialized by the server and a quota is never passed.
 */
export function postgresUsage(pool: pg.Pool): UsageCounters {
  return {
    async create(id, usage) {
      await pool.query(
        `INSERT INTO ${USAGE_TABLE} (id, issued, last_used_at) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET issued = excluded.issued, last_used_at = excluded.last_used_at,
         accounts = 0, last_registration_at = NULL`,
        [id, usage.invitesIssued, usage.lastUsedAt ?? null],
      );
    },
    async adopt(id, usage) {
      await pool.query(
        `INSERT INTO ${USAGE_TABLE} (id, issued, last_used_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
        [id, usage.invitesIssued, usage.lastUsedAt ?? null],
      );
    },
    async add(id, count, at, max): Promise<CountResult> {
      const updated = await pool.query(
        `UPDATE ${USAGE_TABLE} SET issued = issued + $1, last_used_at = $2
         WHERE id = $3 AND ($4::bigint IS NULL OR issued + $1 <= $4::bigint) RETURNING issued`,
        [count, at, id, max ?? null],
      );
      if ((updated.rowCount ?? 0) > 0) return "counted";
      const exists = await pool.query(`SELECT 1 FROM ${USAGE_TABLE} WHERE id = $1`, [id]);
      return (exists.rowCount ?? 0) > 0 ? "exhausted" : "missing";
    },
    async release(id) {
      await pool.query(`UPDATE ${USAGE_TABLE} SET issued = issued - 1 WHERE id = $1 AND issued > 0`, [id]);
    },
    async read(ids) {
      const result = await pool.query<Row>(
        `SELECT id, issued, last_used_at, accounts, last_registration_at FROM ${USAGE_TABLE} WHERE id = ANY($1::varchar[])`,
        [ids],
      );
      return new Map(result.rows.map((row) => [row.id, toUsage(row)]));
    },
    async remove(id) {
      await pool.query(`DELETE FROM ${USAGE_TABLE} WHERE id = $1`, [id]);
    },
  };
}
