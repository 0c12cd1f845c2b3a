import type Keyv from "keyv";
import type { KeyRecordRows } from "../store/store.js";
import type { KeyRecord } from "./keyRecord.js";

/** How often a change is tried again when another writer changed the record between read and write. */
const MAX_TRIES = 20;

/**
 * Changes one key record with the store's compare-and-set (KeyRecordRows): read the row, apply
 * `change`, write it only if the row is still the one read, else read again. So a change never
 * overwrites a concurrent one, and a key deleted meanwhile stays deleted. The row keeps keyv's form
 * (and its expiry, if any), so keyv and the key cache read it as any other. Undefined when there is
 * no record (or `change` returns none); throws when the record kept changing under it.
 */
export async function updateRecord(
  keyv: Keyv,
  rows: KeyRecordRows,
  key: string,
  change: (record: KeyRecord) => KeyRecord | undefined,
): Promise<KeyRecord | undefined> {
  for (let tries = 0; tries < MAX_TRIES; tries += 1) {
    const row = await rows.read(key);
    if (row === undefined) return undefined;
    const stored = await keyv.deserializeData<KeyRecord>(row);
    // As keyv reads it: a row past its own expiry is no record.
    if (!stored?.value || (typeof stored.expires === "number" && Date.now() > stored.expires)) return undefined;
    const next = change(stored.value);
    if (!next) return undefined;
    const nextRow = await keyv.serializeData({ value: next, expires: stored.expires });
    if (typeof nextRow !== "string") throw new Error("keyv did not serialize the record to a string");
    if (await rows.replace(key, row, nextRow)) return next;
  }
  throw new Error(`the key record ${key} kept changing under the update`);
}
