import { hashSecret, parseKey } from "../apiKey.js";
import { HTTP_METHODS, type HttpMethod, type KeyRecord } from "../keyRecord.js";
import type { KeyStore } from "../keyStore.js";
import { ForeignFileError } from "./luaData.js";
import { findOriginalKeys, type OriginalKey } from "./prosodyStores.js";

export interface ImportReport {
  readonly sources: string[];
  readonly imported: string[];
  readonly unchanged: string[];
}

/**
 * Imports the keys mod_invites_api stored for HOST. Everything is read and checked before anything
 * is written: a bad file or a clashing id imports nothing. Keys already imported are left alone,
 * so running it twice changes nothing. Tokens are stored hashed, like our own secrets.
 */
export async function importOriginalKeys(keys: KeyStore, host: string, path: string): Promise<ImportReport> {
  const found = await findOriginalKeys(path, host);
  const byId = new Map<string, KeyRecord>();
  for (const { source, path: file, keys: originals } of found) {
    for (const original of originals) {
      const record = convert(original, host, `mod_invites_api (${source})`, file);
      const seen = byId.get(record.id);
      if (seen && seen.secretHash !== record.secretHash) {
        throw new ForeignFileError(`key ${record.id} appears twice with different tokens`);
      }
      if (!seen) byId.set(record.id, record);
    }
  }

  const imported: KeyRecord[] = [];
  const unchanged: string[] = [];
  for (const record of byId.values()) {
    const existing = await keys.getRecord(record.id);
    if (!existing) imported.push(record);
    else if (existing.host === host && existing.secretHash === record.secretHash) unchanged.push(record.id);
    else throw new ForeignFileError(`key id ${record.id} is already used by another key; nothing imported`);
  }
  for (const record of imported) await keys.putRecord(record);
  return { sources: found.map((f) => `${f.source} ${f.path}`), imported: imported.map((r) => r.id), unchanged };
}

// Prosody stores seconds; a value no Date can hold (a damaged file) counts as "now".
function createdAtOf(seconds: unknown): string {
  const date = new Date(typeof seconds === "number" ? seconds * 1_000 : Date.now());
  return (Number.isNaN(date.getTime()) ? new Date() : date).toISOString();
}

function convert(original: OriginalKey, host: string, importedFrom: string, file: string): KeyRecord {
  const { id, token, name, created_at: createdAt, allowed_methods: allowed } = original ?? {};
  if (typeof id !== "string" || typeof token !== "string" || !parseKey(`${id}/${token}`)) {
    throw new ForeignFileError(`${file} holds a record that is not a mod_invites_api key`);
  }
  return {
    id,
    host,
    // Control characters would break `list`'s ID<TAB>NAME lines, as they are refused in `create`.
    name: typeof name === "string" ? name.replace(/[\p{Cc}\u2028\u2029]/gu, " ") : "",
    createdAt: createdAtOf(createdAt),
    methods: methodsOf(allowed),
    invitesIssued: 0,
    importedFrom,
    secretHash: hashSecret(token),
  };
}

// The original allows every method when a key has no allowed_methods.
function methodsOf(allowed: unknown): HttpMethod[] {
  if (!allowed || typeof allowed !== "object") return [...HTTP_METHODS];
  const table = allowed as Record<string, unknown>;
  return HTTP_METHODS.filter((method) => table[method] === true);
}
