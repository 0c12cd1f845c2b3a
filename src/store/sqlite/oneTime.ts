import type Database from "better-sqlite3";
import type { OneTimeStore } from "../../people/types.js";

const TABLE = "invites_api_one_time";
// Values past their time removed per put: the table never holds much more than the live ones.
const SWEEP = 100;

/** The table; run in the schema's transaction (index.ts). */
export function createOneTimeTable(db: Database.Database): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (id TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
  );
  db.exec(`CREATE INDEX IF NOT EXISTS ${TABLE}_expires ON ${TABLE} (expires_at)`);
}

/** One-time values in the SQLite file: a take is one DELETE … RETURNING, which one statement alone gets. */
export function sqliteOneTime(db: Database.Database): OneTimeStore {
  const statements = {
    sweep: db.prepare<[number, number]>(
      `DELETE FROM ${TABLE} WHERE id IN (SELECT id FROM ${TABLE} WHERE expires_at <= ? LIMIT ?)`,
    ),
    put: db.prepare<[string, string, number]>(
      `INSERT INTO ${TABLE} (id, value, expires_at) VALUES (?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    ),
    take: db.prepare<[string], { value: string; expires_at: number }>(
      `DELETE FROM ${TABLE} WHERE id = ? RETURNING value, expires_at`,
    ),
  };
  const put = db.transaction((id: string, value: string, now: number, ttlMs: number) => {
    statements.sweep.run(now, SWEEP);
    statements.put.run(id, value, now + ttlMs);
  });
  return {
    async put(id, value, ttlMs) {
      put.immediate(id, value, Date.now(), ttlMs);
    },
    async take(id) {
      const row = statements.take.get(id);
      return row && row.expires_at > Date.now() ? row.value : undefined;
    },
  };
}
