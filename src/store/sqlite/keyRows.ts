import type Database from "better-sqlite3";
import type { KeyRecordRows } from "../store.js";

/**
 * Key records' rows in keyv's table (keyRecords.ts), named as keyv names them (`NAMESPACE:key`).
 * SQLite runs one writer at a time, across every process that opens the file: one
 * `UPDATE … WHERE value = ?` is the compare-and-set.
 */
export function sqliteKeyRows(db: Database.Database, namespace: string): KeyRecordRows {
  const name = (key: string) => `${namespace}:${key}`;
  const statements = {
    read: db.prepare<[string], { value: string }>("SELECT value FROM keyv WHERE key = ?"),
    replace: db.prepare<[string, string, string]>("UPDATE keyv SET value = ? WHERE key = ? AND value = ?"),
  };
  return {
    async read(key) {
      return statements.read.get(name(key))?.value;
    },
    async replace(key, expected, next) {
      return statements.replace.run(next, name(key), expected).changes > 0;
    },
  };
}
