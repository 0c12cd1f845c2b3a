import type Database from "better-sqlite3";
import {
  fairOrder,
  roomOf,
  type Delivery,
  type FairClaim,
  type Subscription,
  type SubscriptionStatus,
  type WebhookStore,
} from "../webhooks.js";

const SUBSCRIPTIONS = "invites_api_webhooks";
const OUTBOX = "invites_api_webhook_outbox";
const BACKLOG = "invites_api_webhook_backlog"; // one row: how many deliveries the outbox holds

interface OutboxRow {
  id: string;
  subscription: string;
  payload: string;
  created_at: number;
  attempts: number;
}

const toDelivery = (row: OutboxRow): Delivery => ({
  id: row.id,
  subscriptionId: row.subscription,
  payload: row.payload,
  createdAt: row.created_at,
  attempts: row.attempts,
});

export interface SqliteWebhooks extends WebhookStore {
  /** Queues deliveries in the caller's transaction (a page of registration records and its cursor). */
  enqueueNow(deliveries: readonly Delivery[]): void;
}

/**
 * Subscriptions and outbox in the SQLite file. Every operation is one statement (or one
 * transaction), and SQLite runs one writer at a time: a claim's write transaction takes each due
 * delivery for one caller only, across every process that opens the file.
 */
export function sqliteWebhooks(db: Database.Database): SqliteWebhooks {
  db.exec(`CREATE TABLE IF NOT EXISTS ${SUBSCRIPTIONS} (id TEXT PRIMARY KEY, host TEXT NOT NULL, record TEXT NOT NULL,
    last_success_at TEXT, last_failure_at TEXT, last_error TEXT)`);
  db.exec(`CREATE TABLE IF NOT EXISTS ${OUTBOX} (id TEXT PRIMARY KEY, subscription TEXT NOT NULL,
    payload TEXT NOT NULL, created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL)`);
  db.exec(`CREATE INDEX IF NOT EXISTS ${OUTBOX}_due ON ${OUTBOX} (due_at)`);
  db.exec(`CREATE INDEX IF NOT EXISTS ${OUTBOX}_subscription ON ${OUTBOX} (subscription)`);
  // A fair claim reads each subscription's oldest due ones from the first; backlog() its oldest event.
  db.exec(`CREATE INDEX IF NOT EXISTS ${OUTBOX}_subscription_due ON ${OUTBOX} (subscription, due_at)`);
  db.exec(`CREATE INDEX IF NOT EXISTS ${OUTBOX}_created ON ${OUTBOX} (created_at)`);
  // The count is kept by triggers, so every insert and delete, in whatever transaction (a page of
  // registration records, a cascade) and by whatever process, keeps it; counted once when made.
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS ${BACKLOG} (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL)`);
    db.exec(`INSERT OR IGNORE INTO ${BACKLOG} (id, count) SELECT 1, COUNT(*) FROM ${OUTBOX}`);
    db.exec(`CREATE TRIGGER IF NOT EXISTS ${OUTBOX}_counted AFTER INSERT ON ${OUTBOX}
      BEGIN UPDATE ${BACKLOG} SET count = count + 1 WHERE id = 1; END`);
    db.exec(`CREATE TRIGGER IF NOT EXISTS ${OUTBOX}_uncounted AFTER DELETE ON ${OUTBOX}
      BEGIN UPDATE ${BACKLOG} SET count = count - 1 WHERE id = 1; END`);
  }).immediate();
  const statements = {
    add: db.prepare<[string, string, string]>(`INSERT INTO ${SUBSCRIPTIONS} (id, host, record) VALUES (?, ?, ?)`),
    all: db.prepare<[], { record: string }>(`SELECT record FROM ${SUBSCRIPTIONS} ORDER BY rowid`),
    ofHost: db.prepare<[string], { record: string }>(
      `SELECT record FROM ${SUBSCRIPTIONS} WHERE host = ? ORDER BY rowid`,
    ),
    remove: db.prepare<[string]>(`DELETE FROM ${SUBSCRIPTIONS} WHERE id = ?`),
    record: db.prepare<[string], { record: string }>(`SELECT record FROM ${SUBSCRIPTIONS} WHERE id = ?`),
    replace: db.prepare<[string, string, string]>(`UPDATE ${SUBSCRIPTIONS} SET record = ? WHERE id = ? AND record = ?`),
    removeQueued: db.prepare<[string]>(`DELETE FROM ${OUTBOX} WHERE subscription = ?`),
    status: db.prepare<
      [string],
      { last_success_at: string | null; last_failure_at: string | null; last_error: string | null }
    >(`SELECT last_success_at, last_failure_at, last_error FROM ${SUBSCRIPTIONS} WHERE id = ?`),
    waiting: db.prepare<[string], { count: number; oldest: number | null }>(
      `SELECT COUNT(*) AS count, MIN(created_at) AS oldest FROM ${OUTBOX} WHERE subscription = ?`,
    ),
    enqueue: db.prepare<{ id: string; subscription: string; payload: string; createdAt: number; attempts: number }>(
      `INSERT INTO ${OUTBOX} (id, subscription, payload, created_at, attempts, due_at)
       SELECT @id, @subscription, @payload, @createdAt, @attempts, 0
       WHERE EXISTS (SELECT 1 FROM ${SUBSCRIPTIONS} WHERE id = @subscription)
       ON CONFLICT(id) DO NOTHING`,
    ),
    subscriptionIds: db.prepare<[], { id: string }>(`SELECT id FROM ${SUBSCRIPTIONS} ORDER BY rowid`),
    dueOf: db.prepare<[string, number, number], { id: string; due_at: number }>(
      `SELECT id, due_at FROM ${OUTBOX} WHERE subscription = ? AND due_at <= ? ORDER BY due_at, id LIMIT ?`,
    ),
    take: db.prepare<[number, string], OutboxRow>(
      `UPDATE ${OUTBOX} SET due_at = ? WHERE id = ? RETURNING id, subscription, payload, created_at, attempts`,
    ),
    drop: db.prepare<[string]>(`DELETE FROM ${OUTBOX} WHERE id = ?`),
    retry: db.prepare<[number, string]>(`UPDATE ${OUTBOX} SET attempts = attempts + 1, due_at = ? WHERE id = ?`),
    succeeded: db.prepare<[string, string]>(`UPDATE ${SUBSCRIPTIONS} SET last_success_at = ? WHERE id = ?`),
    failedAt: db.prepare<[string, string, string]>(
      `UPDATE ${SUBSCRIPTIONS} SET last_failure_at = ?, last_error = ? WHERE id = ?`,
    ),
    backlog: db.prepare<[], { count: number; oldest: number | null }>(
      `SELECT (SELECT count FROM ${BACKLOG} WHERE id = 1) AS count,
              (SELECT created_at FROM ${OUTBOX} ORDER BY created_at LIMIT 1) AS oldest`,
    ),
  };
  // One write transaction: each subscription's oldest due ones (an index range each), taken in
  // turns; no other process claims in between.
  const claim = db.transaction((now: number, until: number, max: number, fair: FairClaim | undefined) => {
    const candidates: Array<{ rank: number; dueAt: number; id: string }> = [];
    for (const { id: subscriptionId } of statements.subscriptionIds.all()) {
      const room = Math.min(max, roomOf(fair, subscriptionId));
      if (room <= 0) continue;
      statements.dueOf
        .all(subscriptionId, now, room)
        .forEach((row, rank) => candidates.push({ rank, dueAt: row.due_at, id: row.id }));
    }
    return candidates
      .sort(fairOrder)
      .slice(0, max)
      .flatMap((candidate) => statements.take.all(until, candidate.id))
      .map(toDelivery);
  });
  const enqueueNow = (deliveries: readonly Delivery[]) => {
    for (const d of deliveries) {
      statements.enqueue.run({
        id: d.id,
        subscription: d.subscriptionId,
        payload: d.payload,
        createdAt: d.createdAt,
        attempts: d.attempts,
      });
    }
  };
  const enqueue = db.transaction(enqueueNow);
  const deleteSubscription = db.transaction((id: string) => {
    statements.removeQueued.run(id);
    return statements.remove.run(id).changes > 0;
  });
  const parse = (rows: Array<{ record: string }>) => rows.map((row) => JSON.parse(row.record) as Subscription);
  return {
    enqueueNow,
    async addSubscription(subscription: Subscription) {
      statements.add.run(subscription.id, subscription.host, JSON.stringify(subscription));
    },
    async listSubscriptions(host?: string) {
      return parse(host === undefined ? statements.all.all() : statements.ofHost.all(host));
    },
    async deleteSubscription(id: string) {
      return deleteSubscription(id);
    },
    async subscriptionRecord(id: string) {
      return statements.record.get(id)?.record;
    },
    async replaceSubscription(id: string, expected: string, next: string) {
      return statements.replace.run(next, id, expected).changes > 0;
    },
    async status(ids: readonly string[]) {
      const found = new Map<string, SubscriptionStatus>();
      for (const id of ids) {
        const row = statements.status.get(id);
        if (!row) continue;
        const waiting = statements.waiting.get(id);
        found.set(id, {
          ...(row.last_success_at ? { lastSuccessAt: row.last_success_at } : {}),
          ...(row.last_failure_at ? { lastFailureAt: row.last_failure_at } : {}),
          ...(row.last_error ? { lastError: row.last_error } : {}),
          backlog: waiting?.count ?? 0,
          ...(waiting?.oldest != null ? { oldestAt: waiting.oldest } : {}),
        });
      }
      return found;
    },
    async enqueue(deliveries: readonly Delivery[]) {
      enqueue.immediate(deliveries);
    },
    async claim(now: number, leaseMs: number, max: number, fair?: FairClaim) {
      return claim.immediate(now, now + leaseMs, max, fair);
    },
    async delivered(delivery: Delivery, at: number) {
      statements.drop.run(delivery.id);
      statements.succeeded.run(new Date(at).toISOString(), delivery.subscriptionId);
    },
    async failed(delivery: Delivery, at: number, error: string, retryAt: number | null) {
      if (retryAt === null) statements.drop.run(delivery.id);
      else statements.retry.run(retryAt, delivery.id);
      statements.failedAt.run(new Date(at).toISOString(), error, delivery.subscriptionId);
    },
    async backlog() {
      const row = statements.backlog.get();
      return { count: row?.count ?? 0, ...(row?.oldest != null ? { oldestAt: row.oldest } : {}) };
    },
  };
}
