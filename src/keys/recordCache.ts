import type { DeserializedData } from "keyv";
import type { KeyRecord } from "./keyRecord.js";
import type { ChangeStamp } from "../store/store.js";

export const RECORD_CACHE_ENTRIES = 1_000;

/** A record as keyv keeps it (`get(key, { raw: true })`): with keyv's own expiry, in ms, if set. */
export type StoredRecord = DeserializedData<KeyRecord> | undefined;

type Read = (id: string) => Promise<StoredRecord>;

export interface RecordCacheOptions {
  readonly entries?: number;
  readonly now?: () => number;
}

// keyv's own test (Keyv.get): a row is gone once the clock is past its `expires`.
const expired = (stored: StoredRecord | null, now: number): boolean =>
  typeof stored?.expires === "number" && now > stored.expires;

/**
 * Key records (and ids found missing) kept in memory for as long as nothing was committed to the
 * store, by this process or any other: the stamp is read before every lookup, and any change empties
 * the cache. So a key the CLI deletes is refused on its next request, and a key it creates or imports
 * is found, exactly as without the cache. A read that began before a change is not kept. Records hold
 * the secret's hash, never the secret. Past RECORD_CACHE_ENTRIES the oldest entry goes.
 *
 * keyv drops a row past its `expires` when it reads it, which is no commit until it does: so a kept
 * row past its `expires` is read again, and keyv answers for it.
 */
export function recordCache(
  stamp: ChangeStamp,
  read: Read,
  { entries = RECORD_CACHE_ENTRIES, now = Date.now }: RecordCacheOptions = {},
): (id: string) => Promise<KeyRecord | undefined> {
  const records = new Map<string, StoredRecord | null>();
  let cachedAt: number | undefined;

  return async function cachedRead(id) {
    const current = stamp.current();
    if (current === undefined) return (await read(id))?.value;
    if (current !== cachedAt) {
      records.clear();
      cachedAt = current;
    }
    const cached = records.get(id);
    if (cached !== undefined && !expired(cached, now())) return cached?.value;
    records.delete(id);
    const stored = await read(id);
    // Another lookup may have seen a newer stamp while this one waited: keep nothing then.
    if (cachedAt === current) {
      if (records.size >= entries) records.delete(records.keys().next().value as string);
      records.set(id, stored ?? null);
    }
    return stored?.value;
  };
}
