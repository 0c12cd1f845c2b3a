import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { ForeignFileError, readLuaData } from "./luaData.js";

/** A key as mod_invites_api stores it (store `invite_api_keys`, map of id → record). */
export interface OriginalKey {
  readonly id?: unknown;
  readonly token?: unknown;
  readonly name?: unknown;
  readonly created_at?: unknown;
  readonly allowed_methods?: unknown;
}

export interface FoundKeys {
  /** "file store" or "sql store", for messages and the record's importedFrom. */
  readonly source: string;
  readonly path: string;
  readonly keys: OriginalKey[];
}

const STORE = "invite_api_keys";
const SQLITE_MAGIC = "SQLite format 3\0";

/** Prosody's datamanager escapes every non-alphanumeric byte of a host as %xx. */
export const encodeHost = (host: string): string =>
  host.replace(/[^A-Za-z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

/**
 * The keys of HOST under PATH: a data directory (its `prosody.sqlite` and/or
 * `<host>/invite_api_keys.dat`), or one of those files. Throws when there is nothing to read.
 */
export async function findOriginalKeys(path: string, host: string): Promise<FoundKeys[]> {
  if (!existsSync(path)) throw new ForeignFileError(`${path} does not exist`);
  if (statSync(path).isDirectory()) {
    const candidates = [join(path, encodeHost(host), `${STORE}.dat`), join(path, "prosody.sqlite")];
    const present = candidates.filter((file) => existsSync(file));
    if (present.length === 0) {
      throw new ForeignFileError(`no mod_invites_api keys under ${path} (looked for ${candidates.join(" and ")})`);
    }
    return Promise.all(present.map((file) => readStoreFile(file, host)));
  }
  return [await readStoreFile(path, host)];
}

async function readStoreFile(file: string, host: string): Promise<FoundKeys> {
  const bytes = readFileSync(file);
  if (bytes.subarray(0, SQLITE_MAGIC.length).toString("latin1") === SQLITE_MAGIC) {
    return { source: "sql store", path: file, keys: await readSqlStore(file, host) };
  }
  // luaparse's pseudo-latin1 mode takes one char per byte; string values are decoded back to UTF-8.
  const data = readLuaData(bytes.toString("latin1"));
  if (data === null || typeof data !== "object") throw new ForeignFileError(`${file} holds no table`);
  return { source: "file store", path: file, keys: Object.values(data) as unknown as OriginalKey[] };
}

interface Row {
  key: string;
  type: string;
  value: string;
}

async function readSqlStore(file: string, host: string): Promise<OriginalKey[]> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    let rows: Row[];
    try {
      rows = db
        .prepare<[string, string], Row>(
          `SELECT "key", "type", "value" FROM "prosody" WHERE "host" = ? AND "user" = '' AND "store" = ?`,
        )
        .all(host, STORE);
    } catch (err) {
      throw new ForeignFileError(`${file} is not Prosody's SQL store: ${(err as Error).message}`);
    }
    return rows.map((row) => {
      if (row.type !== "json") throw new ForeignFileError(`key ${row.key} in ${file} is of type ${row.type}, not json`);
      try {
        return JSON.parse(row.value) as OriginalKey;
      } catch {
        throw new ForeignFileError(`key ${row.key} in ${file} is not valid JSON`);
      }
    });
  } finally {
    db.close();
  }
}
