import type pg from "pg";
import type { QuotaState, QuotaStore } from "../../people/types.js";
import { inTransaction } from "./transaction.js";

const TABLE = "invites_api_quota_uses";
// Other subjects' uses past their window removed per take: no subject's old uses pile up.
const SWEEP = 100;
/**
 * The first key of each subject's advisory lock (the second is a hash of the subject): apart from
 * other two-key locks; one-key locks (the schema's) are another space.
 */
const QUOTA_LOCK = 0x29_0a_70;

/** Run under the schema lock at start-up (index.ts). */
export const POSTGRES_QUOTA_SCHEMA = [
  // expires_at: the end of the window the use was taken in, for the sweep of other subjects.
  `CREATE TABLE IF NOT EXISTS ${TABLE} (subject text NOT NULL, use text NOT NULL, taken_at bigint NOT NULL,
   expires_at bigint NOT NULL, PRIMARY KEY (subject, use))`,
  `CREATE INDEX IF NOT EXISTS ${TABLE}_expires ON ${TABLE} (expires_at)`,
];

interface Counted {
  used: string;
  oldest: string | null;
}

const stateOf = ({ used, oldest }: Counted, limit: number, windowMs: number): QuotaState =>
  oldest === null ? { limit, used: Number(used) } : { limit, used: Number(used), nextAt: Number(oldest) + windowMs };

const COUNT = `SELECT count(*) AS used, min(taken_at) AS oldest FROM ${TABLE} WHERE subject = $1 AND taken_at > $2`;

/**
 * After the lock, one statement (one round trip): its parts share one snapshot, taken once the lock
 * is held. The subject's uses out of the window and a few of others' past their own are removed;
 * what counts is only what is in the window, so the deletes need not come first.
 */
const TAKE = `WITH pruned AS (DELETE FROM ${TABLE} WHERE subject = $1 AND taken_at <= $2),
  swept AS (DELETE FROM ${TABLE} WHERE ctid IN (SELECT ctid FROM ${TABLE} WHERE expires_at <= $4 LIMIT $7)),
  counted AS (SELECT count(*) AS used, min(taken_at) AS oldest FROM ${TABLE} WHERE subject = $1 AND taken_at > $2),
  added AS (INSERT INTO ${TABLE} (subject, use, taken_at, expires_at)
    SELECT $1, $3, $4, $5 FROM counted WHERE used < $6 RETURNING taken_at)
  SELECT used, oldest, (SELECT count(*) FROM added) AS taken FROM counted`;

/**
 * Quotas in PostgreSQL: a take counts and inserts in one transaction under an advisory lock on its
 * subject, so that a concurrent take of the same subject, from any instance, waits for its commit
 * and then counts what it wrote (READ COMMITTED: each statement sees what committed before it).
 */
export function postgresQuotas(pool: pg.Pool): QuotaStore {
  return {
    take: (subject, limit, windowMs, now, use) =>
      inTransaction(pool, async (client) => {
        await client.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [QUOTA_LOCK, subject]);
        const { rows } = await client.query<Counted & { taken: string }>(TAKE, [
          subject,
          now - windowMs,
          use,
          now,
          now + windowMs,
          limit,
          SWEEP,
        ]);
        const before = rows[0] as Counted & { taken: string };
        if (before.taken === "0") return { taken: false, state: stateOf(before, limit, windowMs) };
        const oldest = String(Math.min(Number(before.oldest ?? now), now));
        return { taken: true, state: stateOf({ used: String(Number(before.used) + 1), oldest }, limit, windowMs) };
      }),
    async release(subject, use) {
      await pool.query(`DELETE FROM ${TABLE} WHERE subject = $1 AND use = $2`, [subject, use]);
    },
    async peek(subject, limit, windowMs, now) {
      return stateOf((await pool.query<Counted>(COUNT, [subject, now - windowMs])).rows[0] as Counted, limit, windowMs);
    },
  };
}
