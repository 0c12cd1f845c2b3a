import type pg from "pg";
import type { OneTimeStore } from "../../people/types.js";

const TABLE = "invites_api_one_time";
// Values past their time removed per put: the table never holds much more than the live ones.
const SWEEP = 100;

/** Run under the schema lock at start-up (index.ts). */
export const POSTGRES_ONE_TIME_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${TABLE} (id text PRIMARY KEY, value text NOT NULL, expires_at bigint NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS ${TABLE}_expires ON ${TABLE} (expires_at)`,
];

/**
 * One-time values in PostgreSQL: a take is one DELETE … RETURNING; of two concurrent takes, the
 * second waits on the first's row lock and then finds it deleted.
 */
export function postgresOneTime(pool: pg.Pool): OneTimeStore {
  return {
    async put(id, value, ttlMs) {
      const now = Date.now();
      await pool.query(`DELETE FROM ${TABLE} WHERE id IN (SELECT id FROM ${TABLE} WHERE expires_at <= $1 LIMIT $2)`, [
        now,
        SWEEP,
      ]);
      await pool.query(
        `INSERT INTO ${TABLE} (id, value, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
        [id, value, now + ttlMs],
      );
    },
    async take(id) {
      const { rows } = await pool.query<{ value: string; expires_at: string }>(
        `DELETE FROM ${TABLE} WHERE id = $1 RETURNING value, expires_at`,
        [id],
      );
      const row = rows[0];
      return row && Number(row.expires_at) > Date.now() ? row.value : undefined;
    },
  };
}
