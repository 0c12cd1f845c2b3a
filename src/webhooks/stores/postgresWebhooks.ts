import type pg from "pg";
import { inTransaction } from "../../keys/pgTransaction.js";
import type { Delivery, Subscription, SubscriptionStatus, WebhookStore } from "../webhookStore.js";

const SUBSCRIPTIONS = "invites_api_webhooks";
const OUTBOX = "invites_api_webhook_outbox";

/** Run under the schema lock at start-up (postgresBackend.ts). */
export const POSTGRES_WEBHOOK_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${SUBSCRIPTIONS} (id varchar(255) PRIMARY KEY, host varchar(1023) NOT NULL,
   record text NOT NULL, made bigserial, last_success_at text, last_failure_at text, last_error text)`,
  `CREATE TABLE IF NOT EXISTS ${OUTBOX} (id varchar(255) PRIMARY KEY, subscription varchar(255) NOT NULL,
   payload text NOT NULL, created_at bigint NOT NULL, attempts integer NOT NULL DEFAULT 0, due_at bigint NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS ${OUTBOX}_due ON ${OUTBOX} (due_at)`,
  `CREATE INDEX IF NOT EXISTS ${OUTBOX}_subscription ON ${OUTBOX} (subscription)`,
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
    async claim(now, leaseMs, max) {
      const result = await pool.query<OutboxRow>(
        `UPDATE ${OUTBOX} SET due_at = $2
         WHERE id IN (SELECT id FROM ${OUTBOX} WHERE due_at <= $1 ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id, subscription, payload, created_at, attempts`,
        [now, now + leaseMs, max],
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
        `SELECT COUNT(*) AS count, MIN(created_at) AS oldest FROM ${OUTBOX}`,
      );
      const row = result.rows[0];
      return { count: Number(row?.count ?? 0), ...(row?.oldest != null ? { oldestAt: Number(row.oldest) } : {}) };
    },
  };
}
