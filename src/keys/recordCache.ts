import type { KeyRecord } from "./keyRecord.js";
import type { ChangeStamp } from "./walStamp.js";

export const RECORD_CACHE_ENTRIES = 1_000;

type Read = (id: string) => Promise<KeyRecord | undefined>;

/**
 * Key records (and ids found missing) kept in memory for as long as nothing was committed to the
 * store, by this process or any other: the stamp is read before every lookup, and any change empties
 * the cache. So a key the CLI deletes is refused on its next request, and a key it creates or imports
 * is found, exactly as without the cache. A read that began before a change is not kept. Records hold
 * the secret's hash, never the secret. Past RECORD_CACHE_ENTRIES the oldest entry goes.
 */
export function recordCache(stamp: ChangeStamp, read: Read, entries = RECORD_CACHE_ENTRIES): Read {
  const records = new Map<string, KeyRecord | null>();
  let cachedAt: number | undefined;

  return async function cachedRead(id) {
    const now = stamp.current();
    if (now === undefined) return read(id);
    if (now !== cachedAt) {
      records.clear();
      cachedAt = now;
    }
    const cached = records.get(id);
    if (cached !== undefined) return cached ?? undefined;
    const record = await read(id);
    // Another lookup may have seen a newer stamp while this one waited: keep nothing then.
    if (cachedAt === now) {
      if (records.size >= entries) records.delete(records.keys().next().value as string);
      records.set(id, record ?? null);
    }
    return record;
  };
}
