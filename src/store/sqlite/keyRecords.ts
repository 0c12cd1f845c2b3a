import { EventEmitter } from "node:events";
import Database from "better-sqlite3";
import type { KeyvStoreAdapter, StoredData } from "keyv";

const PAGE = 1_000;

interface Row {
  key: string;
  value: string;
}

/**
 * keyv's store for the embedded SQLite file, on better-sqlite3: each lookup is one prepared
 * statement run in place, where the asynchronous sqlite3 driver crossed libuv's thread pool and back
 * twice per request (a third of the service's CPU per rejected key). The table is the one
 * @keyv/sqlite used (`keyv(key, value)`, keyv's serialized values), so existing files keep working.
 *
 * Statements are synchronous: a write of another process (the CLI) holding the lock makes a
 * statement wait up to `busyTimeoutMs`; those writes take milliseconds.
 */
export class SqliteKeyRecords extends EventEmitter implements KeyvStoreAdapter {
  readonly opts = { dialect: "sqlite" };
  namespace?: string;
  readonly db: Database.Database;
  private readonly statements;

  constructor(path: string, busyTimeoutMs: number) {
    super();
    this.db = new Database(path, { timeout: busyTimeoutMs });
    // Write-ahead logging: the CLI and the service share the file, and usage updates are appends.
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec("CREATE TABLE IF NOT EXISTS keyv (key VARCHAR(255) PRIMARY KEY, value TEXT)");
    this.statements = {
      get: this.db.prepare<[string], Row>("SELECT key, value FROM keyv WHERE key = ?"),
      set: this.db.prepare<[string, string]>(
        "INSERT INTO keyv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      ),
      delete: this.db.prepare<[string]>("DELETE FROM keyv WHERE key = ?"),
      clear: this.db.prepare<[string]>("DELETE FROM keyv WHERE key LIKE ?"),
      page: this.db.prepare<[string, string, number], Row>(
        "SELECT key, value FROM keyv WHERE key LIKE ? AND key > ? ORDER BY key LIMIT ?",
      ),
    };
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return this.statements.get.get(key)?.value as StoredData<Value> | undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    this.statements.set.run(key, String(value));
  }

  async delete(key: string): Promise<boolean> {
    return this.statements.delete.run(key).changes > 0;
  }

  async has(key: string): Promise<boolean> {
    return this.statements.get.get(key) !== undefined;
  }

  async clear(): Promise<void> {
    this.statements.clear.run(this.namespace ? `${this.namespace}:%` : "%");
  }

  /** Pages of rows read whole, so that no statement stays open while the caller awaits. */
  async *iterator<Value>(namespace?: string): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    const pattern = `${namespace ? `${namespace}:` : ""}%`;
    let after = "";
    for (;;) {
      const rows = this.statements.page.all(pattern, after, PAGE);
      for (const row of rows) yield [row.key, row.value as Awaited<Value>];
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.key;
    }
  }

  /**
   * A commit that changes nothing (the header's user_version written back as it is): how the change
   * stamp learns which `-shm` file SQLite writes.
   */
  commitNothing(): void {
    this.db
      .transaction(() => {
        const version = Number(this.db.pragma("user_version", { simple: true }));
        this.db.pragma(`user_version = ${version}`);
      })
      .immediate();
  }

  async disconnect(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
