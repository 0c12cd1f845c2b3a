import type Database from "better-sqlite3";
import type { QuotaState, QuotaStore } from "../../people/types.js";

const TABLE = "invites_api_quota_uses";
// Other subjects' uses past their window removed per take: no subject's old uses pile up.
const SWEEP = 100;

/** The table; run in the schema's transaction (index.ts). */
export function createQuotaTable(db: Database.Database): void {
  // expires_at: the end of the window the use was taken in, for the sweep of other subjects.
  db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (subject TEXT NOT NULL, use TEXT NOT NULL,
    taken_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (subject, use))`);
  db.exec(`CREATE INDEX IF NOT EXISTS ${TABLE}_expires ON ${TABLE} (expires_at)`);
}

interface Counted {
  used: number;
  oldest: number | null;
}

const stateOf = ({ used, oldest }: Counted, limit: number, windowMs: number): QuotaState =>
  oldest === null ? { limit, used } : { limit, used, nextAt: oldest + windowMs };

/**
 * Quotas in the SQLite file: a take counts and inserts in one IMMEDIATE transaction, which holds
 * the file's write lock from its first statement, so another process's take waits for its commit.
 */
export function sqliteQuotas(db: Database.Database): QuotaStore {
  const statements = {
    sweep: db.prepare<[number, number]>(
      `DELETE FROM ${TABLE} WHERE rowid IN (SELECT rowid FROM ${TABLE} WHERE expires_at <= ? LIMIT ?)`,
    ),
    prune: db.prepare<[string, number]>(`DELETE FROM ${TABLE} WHERE subject = ? AND taken_at <= ?`),
    count: db.prepare<[string, number], Counted>(
      `SELECT count(*) AS used, min(taken_at) AS oldest FROM ${TABLE} WHERE subject = ? AND taken_at > ?`,
    ),
    insert: db.prepare<[string, string, number, number]>(
      `INSERT INTO ${TABLE} (subject, use, taken_at, expires_at) VALUES (?, ?, ?, ?)`,
    ),
    release: db.prepare<[string, string]>(`DELETE FROM ${TABLE} WHERE subject = ? AND use = ?`),
  };
  const take = db.transaction((subject: string, limit: number, windowMs: number, now: number, use: string) => {
    statements.sweep.run(now, SWEEP);
    statements.prune.run(subject, now - windowMs);
    const before = statements.count.get(subject, now - windowMs) as Counted;
    if (before.used >= limit) return { taken: false, state: stateOf(before, limit, windowMs) };
    statements.insert.run(subject, use, now, now + windowMs);
    const after = { used: before.used + 1, oldest: Math.min(before.oldest ?? now, now) };
    return { taken: true, state: stateOf(after, limit, windowMs) };
  });
  return {
    async take(subject, limit, windowMs, now, use) {
      return take.immediate(subject, limit, windowMs, now, use);
    },
    async release(subject, use) {
      statements.release.run(subject, use);
    },
    async peek(subject, limit, windowMs, now) {
      return stateOf(statements.count.get(subject, now - windowMs) as Counted, limit, windowMs);
    },
  };
}
