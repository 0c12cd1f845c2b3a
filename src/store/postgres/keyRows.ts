import type pg from "pg";
import type { KeyRecordRows } from "../store.js";

/** @keyv/postgres's table (made with the schema, index.ts), where keyv keeps `NAMESPACE:key`. */
const KEYV_TABLE = "public.keyv";

/**
 * Key records' rows in keyv's table. One `UPDATE … WHERE value = $3` is the compare-and-set: it
 * locks the row, so a concurrent rotation waits for it and then finds the row changed, and a
 * deleted row matches nothing.
 */
export function postgresKeyRows(pool: pg.Pool, namespace: string): KeyRecordRows {
  const name = (key: string) => `${namespace}:${key}`;
  return {
    async read(key) {
      const result = await pool.query<{ value: string }>(`SELECT value FROM ${KEYV_TABLE} WHERE key = $1`, [name(key)]);
      return result.rows[0]?.value;
    },
    async replace(key, expected, next) {
      const result = await pool.query(`UPDATE ${KEYV_TABLE} SET value = $2 WHERE key = $1 AND value = $3`, [
        name(key),
        next,
        expected,
      ]);
      return (result.rowCount ?? 0) > 0;
    },
  };
}
