import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Keyv from "keyv";
import KeyvSqlite from "@keyv/sqlite";
import { AppError } from "../errors.js";

const NAMESPACE = "invites-api";

/**
 * Opens the keyv store that KEY_STORE names. Today that is a SQLite file (a plain path or
 * `sqlite://PATH`); the folder is created if missing. Store errors are thrown, never swallowed,
 * so a broken store is a 503, not an "unknown key".
 */
export function openKeyv(keyStore: string): Keyv {
  const path = resolve(keyStore.replace(/^sqlite:\/\//, ""));
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new AppError("store_unavailable", `KEY_STORE: cannot create the folder ${dirname(path)} (${code})`);
  }
  const store = new KeyvSqlite({ uri: `sqlite://${path}`, busyTimeout: 5_000, iterationLimit: 1_000 });
  const keyv = new Keyv({ store, namespace: NAMESPACE, throwOnErrors: true });
  // keyv re-emits store errors; the promise rejections carry them to callers already.
  keyv.on("error", () => {});
  return keyv;
}
