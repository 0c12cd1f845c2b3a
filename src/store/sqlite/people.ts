import type Database from "better-sqlite3";
import { PEOPLE_NAMESPACE, PEOPLE_SWEEP } from "../people.js";
import { SqliteKeyRecords } from "./keyRecords.js";

/**
 * keyv's store for people's values, on a connection of its own to the same table (keyv gives each
 * store one namespace). keyv drops a value past its TTL only when it reads it: each write also
 * removes a few expired ones, so that sessions nobody comes back to do not pile up.
 */
export class SqlitePeople extends SqliteKeyRecords {
  private readonly sweep: Database.Statement<[string, number, number]>;

  constructor(path: string, busyTimeoutMs: number) {
    super(path, busyTimeoutMs);
    this.sweep = this.db.prepare(
      `DELETE FROM keyv WHERE key IN (SELECT key FROM keyv WHERE key LIKE ?
         AND CASE WHEN json_valid(value) THEN json_extract(value, '$.expires') END <= ? LIMIT ?)`,
    );
  }

  override async set(key: string, value: unknown): Promise<void> {
    await super.set(key, value);
    this.sweep.run(`${PEOPLE_NAMESPACE}:%`, Date.now(), PEOPLE_SWEEP);
  }
}
