import type pg from "pg";
import { inTransaction } from "./transaction.js";
import type { Delivery, FairClaim, Subscription, SubscriptionStatus, WebhookStore } from "../webhooks.js";

const SUBSCRIPTIONS = "invites_api_webhooks";
const OUTBOX = "invites_api_webhook_outbox";
const BACKLOG = "invites_api_webhook_backlog"; // one row: how many deliveries the outbox holds

/** Run under the schema lock at start-up (index.ts). */
export const POSTGRES_WEBHOOK_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${SUBSCRIPTIONS} (id varchar(255) PRIMARY KEY, host varchar(1023) NOT NULL,
   record text NOT NULL, made bigserial, last_success_at text, last_failure_at text, last_error text)`,
  `CREATE TABLE IF NOT EXISTS ${OUTBOX} (id varchar(255) PRIMARY KEY, subscription varchar(255) NOT NULL,
   payload text NOT NULL, created_at bigint NOT NULL, attempts integer NOT NULL DEFAULT 0, due_at bigint NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS ${OUTBOX}_due ON ${OUTBOX} (due_at)`,
  `CREATE INDEX IF NOT EXISTS ${OUTBOX}_subscription ON ${OUTBOX} (subscription)`,
  // A fair claim reads each subscription's oldest due ones from the first; backlog() its oldest event.
  `CREATE INDEX IF NOT EXISTS ${OUTBOX}_subscription_due ON ${OUTBOX} (subscription, due_at)`,
  `CREATE INDEX IF NOT EXISTS ${OUTBOX}_created ON ${OUTBOX} (created_at)`,
  // The count is kept by a trigger in the transaction of each insert and delete (a ledger batch, a
  // cascade). Made once, with the count, while the outbox is locked against writes: an instance
  // already running (not under the schema lock) queues nothing between the count and the trigger.
  `CREATE TABLE IF NOT EXISTS ${BACKLOG} (id integer PRIMARY KEY CHECK (id = 1), count bigint NOT NULL)`,
  `CREATE OR REPLACE FUNCTION ${BACKLOG}_count() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     UPDATE ${BACKLOG} SET count = count + (CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END) WHERE id = 1;
     RETURN NULL;
   END $$`,
  `DO $$ BEGIN
     IF NOT EXISTS (SELECT 1 FROM ${BACKLOG}) THEN
       LOCK TABLE ${OUTBOX} IN SHARE ROW EXCLUSIVE MODE;
       DROP TRIGGER IF EXISTS ${OUTBOX}_counted ON ${OUTBOX};
       CREATE TRIGGER ${OUTBOX}_counted AFTER INSERT OR DELETE ON ${OUTBOX}
         FOR EACH ROW EXECUTE FUNCTION ${BACKLOG}_count();
       INSERT INTO ${BACKLOG} (id, count) SELECT 1, COUNT(*) FROM ${OUTBOX};
     END IF;
   END $$`,
];

interface OutboxRow {
  id: string;
  subscription: string;
  payload: string;
  created_at: string;
  attempts: number;
}

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

/** Queues deliveries through `db`: the pool, or the client of the caller's transaction. */
export async function enqueueWith(db: Queryable, deliveries: readonly Delivery[]): Promise<void> {
  for (const d of deliveries) {
    await db.query(
      `INSERT INTO ${OUTBOX} (id, subscription, payload, created_at, attempts, due_at)
       SELECT $1::varchar, $2::varchar, $3::text, $4::bigint, $5::integer, 0
       WHERE EXISTS (SELECT 1 FROM ${SUBSCRIPTIONS} WHERE id = $2::varchar)
       ON CONFLICT (id) DO NOTHING`,
      [d.id, d.subscriptionId, d.payload, d.createdAt, d.attempts],
    );
  }
}

/**
 * Subscriptions and outbox in PostgreSQL. A claim locks the due rows it takes (FOR UPDATE SKIP
 * LOCKED) and moves them past the lease in one statement: two instances never take the same one.
 */
export function postgresWebhooks(pool: pg.Pool): WebhookStore {
  return {
    async addSubscription(subscription) {
      await pool.query(`INSERT INTO ${SUBSCRIPTIONS} (id, host, record) VALUES ($1, $2, $3)`, [
        subscription.id,
        subscription.host,
        JSON.stringify(subscription),
      ]);
    },
    async listSubscriptions(host) {
      const result =
        host === undefined
          ? await pool.query<{ record: string }>(`SELECT record FROM ${SUBSCRIPTIONS} ORDER BY made`)
          : await pool.query<{ record: string }>(`SELECT record FROM ${SUBSCRIPTIONS} WHERE host = $1 ORDER BY made`, [
              host,
            ]);
      return result.rows.map((row) => JSON.parse(row.record) as Subscription);
    },
    async deleteSubscription(id) {
      return inTransaction(pool, async (client) => {
        const removed = await client.query(`DELETE FROM ${SUBSCRIPTIONS} WHERE id = $1`, [id]);
        await client.query(`DELETE FROM ${OUTBOX} WHERE subscription = $1`, [id]);
        return (removed.rowCount ?? 0) > 0;
      });
    },
    async subscriptionRecord(id) {
      const result = await pool.query<{ record: string }>(`SELECT record FROM ${SUBSCRIPTIONS} WHERE id = $1`, [id]);
      return result.rows[0]?.record;
    },
    // One UPDATE: it locks the row, so a concurrent replace waits, then finds the record changed.
    async replaceSubscription(id, expected, next) {
      const result = await pool.query(`UPDATE ${SUBSCRIPTIONS} SET record = $2 WHERE id = $1 AND record = $3`, [
        id,
        next,
        expected,
      ]);
      return (result.rowCount ?? 0) > 0;
    },
    async status(ids) {
      const rows = await pool.query<{
        id: string;
        last_success_at: string | null;
        last_failure_at: string | null;
        last_error: string | null;
        count: string;
        oldest: string | null;
      }>(
        `SELECT s.id, s.last_success_at, s.last_failure_at, s.last_error,
                COUNT(o.id) AS count, MIN(o.created_at) AS oldest
         FROM ${SUBSCRIPTIONS} s LEFT JOIN ${OUTBOX} o ON o.subscription = s.id
         WHERE s.id = ANY($1::varchar[]) GROUP BY s.id`,
        [ids],
      );
      return new Map(
        rows.rows.map((row): [string, SubscriptionStatus] => [
          row.id,
          {
            ...(row.last_success_at ? { lastSuccessAt: row.last_success_at } : {}),
            ...(row.last_failure_at ? { lastFailureAt: row.last_failure_at } : {}),
            ...(row.last_error ? { lastError: row.last_error } : {}),
            backlog: Number(row.count),
            ...(row.oldest !== null ? { oldestAt: Number(row.oldest) } : {}),
          },
        ]),
      );
    },
    enqueue: (deliveries) => inTransaction(pool, (client) => enqueueWith(client, deliveries)),
    async claim(now, leaseMs, max, fair?: FairClaim) {
      // Each subscription's oldest due ones (an index range each, locked, skipping what another
      // claim holds), ranked in their subscription; every first place goes before any second.
      const result = await pool.query<OutboxRow>(
        `UPDATE ${OUTBOX} SET due_at = $2
         WHERE id IN (
           SELECT id FROM (
             SELECT o.id, o.due_at, row_number() OVER (PARTITION BY s.id ORDER BY o.due_at, o.id) AS rank
             FROM ${SUBSCRIPTIONS} s CROSS JOIN LATERAL (
               SELECT id, due_at FROM ${OUTBOX}
               WHERE subscription = s.id AND due_at <= $1
               ORDER BY due_at, id
               LIMIT GREATEST(0, LEAST($3::integer, $4::integer - COALESCE(($5::jsonb ->> s.id)::integer, 0)))
               FOR UPDATE SKIP LOCKED
             ) o
           ) ranked
           ORDER BY rank, due_at, id LIMIT $3)
         RETURNING id, subscription, payload, created_at, attempts`,
        [
          now,
          now + leaseMs,
          max,
          fair?.perSubscription ?? max,
          JSON.stringify(Object.fromEntries(fair?.inFlight ?? [])),
        ],
      );
      return result.rows.map((row) => ({
        id: row.id,
        subscriptionId: row.subscription,
        payload: row.payload,
        createdAt: Number(row.created_at),
        attempts: row.attempts,
      }));
    },
    async delivered(delivery, at) {
      await pool.query(`DELETE FROM ${OUTBOX} WHERE id = $1`, [delivery.id]);
      await pool.query(`UPDATE ${SUBSCRIPTIONS} SET last_success_at = $1 WHERE id = $2`, [
        new Date(at).toISOString(),
        delivery.subscriptionId,
      ]);
    },
    async failed(delivery, at, error, retryAt) {
      if (retryAt === null) await pool.query(`DELETE FROM ${OUTBOX} WHERE id = $1`, [delivery.id]);
      else {
        await pool.query(`UPDATE ${OUTBOX} SET attempts = attempts + 1, due_at = $1 WHERE id = $2`, [
          retryAt,
          delivery.id,
        ]);
      }
      await pool.query(`UPDATE ${SUBSCRIPTIONS} SET last_failure_at = $1, last_error = $2 WHERE id = $3`, [
        new Date(at).toISOString(),
        error,
        delivery.subscriptionId,
      ]);
    },
    async backlog() {
      const result = await pool.query<{ count: string; oldest: string | null }>(
        `SELECT (SELECT count FROM ${BACKLOG} WHERE id = 1) AS count,
                (SELECT created_at FROM ${OUTBOX} ORDER BY created_at LIMIT 1) AS oldest`,
      );
      const row = result.rows[0];
      return { count: Number(row?.count ?? 0), ...(row?.oldest != null ? { oldestAt: Number(row.oldest) } : {}) };
    },
  };
}
