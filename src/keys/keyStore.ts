import type Keyv from "keyv";
import { AppError, KeyNotFoundError } from "../errors.js";
import { formatKey, generateKey, hashSecret, secretMatches, type ParsedKey } from "./apiKey.js";

export const HTTP_METHODS = ["GET", "POST"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** What is stored for a key. The secret itself is never stored, only its SHA-256. */
export interface KeyRecord {
  readonly id: string;
  readonly host: string;
  readonly name: string;
  readonly createdAt: string;
  readonly methods: readonly HttpMethod[];
  readonly secretHash: string;
}

export type KeyInfo = Omit<KeyRecord, "secretHash">;

export interface KeyOptions {
  readonly name?: string;
  /** Methods the key may use; both by default, as mod_invites_api creates keys. */
  readonly methods?: readonly HttpMethod[];
}

export interface KeyStore {
  /** Returns the new record's public part and the `ID/SECRET` string, which exists nowhere else. */
  create(host: string, options?: KeyOptions): Promise<{ info: KeyInfo; key: string }>;
  /** The record when the id exists and the secret matches; undefined otherwise. */
  verify(key: ParsedKey): Promise<KeyInfo | undefined>;
  list(host: string): Promise<KeyInfo[]>;
  /** Throws KeyNotFoundError when the host has no key with that id. */
  delete(host: string, id: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const recordKey = (id: string): string => `key:${id}`;

function publicPart(record: KeyRecord): KeyInfo {
  const { secretHash: _secretHash, ...info } = record;
  return info;
}

async function guarded<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof KeyNotFoundError || err instanceof AppError) throw err;
    throw new AppError("store_unavailable", `key store failed to ${what}`, { cause: err });
  }
}

export function createKeyStore(keyv: Keyv, now: () => Date = () => new Date()): KeyStore {
  // keyv reports store failures as "not found" unless told to throw: a broken store must be a 503,
  // never a 403 that looks like a bad key.
  keyv.throwOnErrors = true;
  const read = (id: string) => keyv.get<KeyRecord>(recordKey(id));

  return {
    create: (host, { name = "", methods = HTTP_METHODS } = {}) =>
      guarded("create a key", async () => {
        let parsed = generateKey();
        // 48 random bits make a clash unlikely, not impossible; never overwrite a key.
        while (await keyv.has(recordKey(parsed.id))) parsed = generateKey();
        const record: KeyRecord = {
          id: parsed.id,
          host,
          name,
          createdAt: now().toISOString(),
          methods: [...methods],
          secretHash: hashSecret(parsed.secret),
        };
        await keyv.set(recordKey(record.id), record);
        return { info: publicPart(record), key: formatKey(parsed) };
      }),

    verify: (key) =>
      guarded("read a key", async () => {
        const record = await read(key.id);
        return secretMatches(key.secret, record?.secretHash) && record ? publicPart(record) : undefined;
      }),

    list: (host) =>
      guarded("list keys", async () => {
        const found: KeyInfo[] = [];
        if (!keyv.iterator) throw new Error("store cannot list keys");
        for await (const [, value] of keyv.iterator(undefined)) {
          const record = value as KeyRecord | undefined;
          if (record?.host === host) found.push(publicPart(record));
        }
        return found.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
      }),

    delete: (host, id) =>
      guarded("delete a key", async () => {
        const record = await read(id);
        if (!record || record.host !== host) throw new KeyNotFoundError(`no key ${id} for host ${host}`);
        await keyv.delete(recordKey(id));
      }),

    ping: () =>
      guarded("answer", async () => {
        await keyv.has(recordKey("ping"));
      }),

    close: () => keyv.disconnect(),
  };
}
