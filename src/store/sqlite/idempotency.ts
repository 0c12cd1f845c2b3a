import type Database from "better-sqlite3";
import type { IdempotencyEntry, IdempotencyStore, KeptAnswer } from "../idempotency.js";

const TABLE = "invites_api_idempotency";
// Entries past their time removed per claim: the table never holds much more than a day's keys.
const SWEEP = 100;

/** The table; run in the schema's transaction (index.ts). */
export function createIdempotencyTable(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,
    owner TEXT NOT NULL, answer TEXT, expires_at INTEGER NOT NULL)`);
  db.exec(`CREATE INDEX IF NOT EXISTS ${TABLE}_expires ON ${TABLE} (expires_at)`);
}

interface Row {
  fingerprint: string;
  owner: string;
  answer: string | null;
  expires_at: number;
}

const entryOf = (row: Row | undefined): IdempotencyEntry | undefined =>
  row && {
    fingerprint: row.fingerprint,
    owner: row.owner,
    expiresAt: row.expires_at,
    ...(row.answer === null ? {} : { answer: JSON.parse(row.answer) as KeptAnswer }),
  };

/** Idempotency entries in the SQLite file: a claim is an INSERT … ON CONFLICT that takes only an expired row. */
export function sqliteIdempotency(db: Database.Database): IdempotencyStore {
  const statements = {
    sweep: db.prepare<[number, number]>(
      `DELETE FROM ${TABLE} WHERE key IN (SELECT key FROM ${TABLE} WHERE expires_at <= ? LIMIT ?)`,
    ),
    claim: db.prepare<{ key: string; fingerprint: string; owner: string; expiresAt: number; now: number }>(
      `INSERT INTO ${TABLE} (key, fingerprint, owner, answer, expires_at)
       VALUES (@key, @fingerprint, @owner, NULL, @expiresAt)
       ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint, owner = excluded.owner,
         answer = NULL, expires_at = excluded.expires_at
       WHERE ${TABLE}.expires_at <= @now`,
    ),
    read: db.prepare<[string, number], Row>(
      `SELECT fingerprint, owner, answer, expires_at FROM ${TABLE} WHERE key = ? AND expires_at > ?`,
    ),
    complete: db.prepare<{ key: string; owner: string; answer: string; expiresAt: number }>(
      `UPDATE ${TABLE} SET answer = @answer, expires_at = @expiresAt WHERE key = @key AND owner = @owner`,
    ),
    release: db.prepare<[string, string]>(`DELETE FROM ${TABLE} WHERE key = ? AND owner = ?`),
  };
  // IMMEDIATE: another process's claim of the same key waits for this one's commit.
  const claim = db.transaction((key: string, entry: IdempotencyEntry, now: number) => {
    statements.sweep.run(now, SWEEP);
    const { fingerprint, owner, expiresAt } = entry;
    if (statements.claim.run({ key, fingerprint, owner, expiresAt, now }).changes === 1) return undefined;
    return entryOf(statements.read.get(key, now));
  });
  return {
    async claim(key, entry, now) {
      return claim.immediate(key, entry, now);
    },
    async read(key, now) {
      return entryOf(statements.read.get(key, now));
    },
    async complete(key, owner, answer, expiresAt) {
      return statements.complete.run({ key, owner, answer: JSON.stringify(answer), expiresAt }).changes === 1;
    },
    async release(key, owner) {
      statements.release.run(key, owner);
    },
  };
}
