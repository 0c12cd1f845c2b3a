import type Keyv from "keyv";
import type { KeyRecordRows } from "../store.js";

/**
 * Key records' rows in a keyv kept in this process's Map (keyv's default store: unit tests and the
 * memory store). Each operation runs to its end without awaiting, so it is atomic here.
 */
export function mapKeyRows(keyv: Keyv): KeyRecordRows {
  const map = (): Map<string, unknown> => {
    if (!(keyv.store instanceof Map)) throw new Error("this keyv's store is not a Map: give its store's own key rows");
    return keyv.store as Map<string, unknown>;
  };
  const name = (key: string) => (keyv.namespace ? `${keyv.namespace}:${key}` : key);
  return {
    async read(key) {
      const row = map().get(name(key));
      return typeof row === "string" ? row : undefined;
    },
    async replace(key, expected, next) {
      const rows = map();
      if (rows.get(name(key)) !== expected) return false;
      rows.set(name(key), next);
      return true;
    },
  };
}
