import type pg from "pg";
import type { IdempotencyEntry, IdempotencyStore, KeptAnswer } from "../idempotency.js";

const TABLE = "invites_api_idempotency";
// Entries past their time removed per claim: the table never holds much more than a day's keys.
const SWEEP = 100;

/** Run under the schema lock at start-up (index.ts). */
export const POSTGRES_IDEMPOTENCY_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${TABLE} (key varchar(128) PRIMARY KEY, fingerprint text NOT NULL,
   owner text NOT NULL, answer text, expires_at bigint NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS ${TABLE}_expires ON ${TABLE} (expires_at)`,
];

interface Row {
  fingerprint: string;
  owner: string;
  answer: string | null;
  expires_at: string;
}

const entryOf = (row: Row | undefined): IdempotencyEntry | undefined =>
  row && {
    fingerprint: row.fingerprint,
    owner: row.owner,
    expiresAt: Number(row.expires_at),
    ...(row.answer === null ? {} : { answer: JSON.parse(row.answer) as KeptAnswer }),
  };

/**
 * Idempotency entries in PostgreSQL: a claim is an INSERT … ON CONFLICT that takes only an expired
 * row; of two concurrent claims of one key, the second waits on the first's row and then finds it live.
 */
export function postgresIdempotency(pool: pg.Pool): IdempotencyStore {
  const read = async (key: string, now: number) =>
    entryOf(
      (
        await pool.query<Row>(
          `SELECT fingerprint, owner, answer, expires_at FROM ${TABLE} WHERE key = $1 AND expires_at > $2`,
          [key, now],
        )
      ).rows[0],
    );
  return {
    async claim(key, entry, now) {
      await pool.query(`DELETE FROM ${TABLE} WHERE key IN (SELECT key FROM ${TABLE} WHERE expires_at <= $1 LIMIT $2)`, [
        now,
        SWEEP,
      ]);
      const claimed = await pool.query(
        `INSERT INTO ${TABLE} AS t (key, fingerprint, owner, answer, expires_at) VALUES ($1, $2, $3, NULL, $4)
         ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, owner = EXCLUDED.owner,
           answer = NULL, expires_at = EXCLUDED.expires_at
         WHERE t.expires_at <= $5`,
        [key, entry.fingerprint, entry.owner, entry.expiresAt, now],
      );
      return claimed.rowCount === 1 ? undefined : read(key, now);
    },
    read,
    async complete(key, owner, answer, expiresAt) {
      const done = await pool.query(`UPDATE ${TABLE} SET answer = $3, expires_at = $4 WHERE key = $1 AND owner = $2`, [
        key,
        owner,
        JSON.stringify(answer),
        expiresAt,
      ]);
      return done.rowCount === 1;
    },
    async release(key, owner) {
      await pool.query(`DELETE FROM ${TABLE} WHERE key = $1 AND owner = $2`, [key, owner]);
    },
  };
}
