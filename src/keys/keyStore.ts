import type Keyv from "keyv";
import { AppError, KeyNotFoundError } from "../errors.js";
import { formatKey, generateKey, hashSecret, secretMatches, type ParsedKey } from "./apiKey.js";
import { HTTP_METHODS, type KeyInfo, type KeyOptions, type KeyRecord } from "./keyRecord.js";

export * from "./keyRecord.js";

export type ReserveResult = "reserved" | "exhausted" | "gone";

export interface KeyStore {
  /** Returns the new record's public part and the `ID/SECRET` string, which exists nowhere else. */
  create(host: string, options?: KeyOptions): Promise<{ info: KeyInfo; key: string }>;
  /** The record when the id exists and the secret matches; undefined otherwise. Never cached. */
  verify(key: ParsedKey): Promise<KeyInfo | undefined>;
  get(host: string, id: string): Promise<KeyInfo | undefined>;
  list(host: string): Promise<KeyInfo[]>;
  /** Throws KeyNotFoundError when the host has no key with that id. */
  delete(host: string, id: string): Promise<void>;
  /** The stored record of an id, whatever its host (imports compare against it). */
  getRecord(id: string): Promise<KeyRecord | undefined>;
  putRecord(record: KeyRecord): Promise<void>;
  /**
   * Counts one invite against the key before it is asked for, so that concurrent requests cannot
   * overrun a quota: "exhausted" when max-invites is reached, "gone" when the key was deleted.
   */
  reserveInvite(id: string, at: Date): Promise<ReserveResult>;
  /** Gives a reservation back when the invite could not be created. */
  releaseInvite(id: string): Promise<void>;
  /**
   * Counts an invite of a key without max-invites. The count and last-used time are written
   * within USAGE_FLUSH_MS, many invites in one write, so that usage costs no store write per invite.
   */
  recordInvite(id: string, at: Date): void;
  /** Writes the usage counted so far (close() does too). */
  flush(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const recordKey = (id: string): string => `key:${id}`;

export const USAGE_FLUSH_MS = 1_000;

function publicPart(record: KeyRecord): KeyInfo {
  const { secretHash: _secretHash, ...info } = record;
  return { ...info, invitesIssued: info.invitesIssued ?? 0 };
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

  // Read-modify-write of one record at a time per key, within this process.
  const queues = new Map<string, Promise<unknown>>();
  function serialized<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = queues.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    queues.set(id, settled);
    void settled.then(() => queues.get(id) === settled && queues.delete(id));
    return next;
  }

  // Usage of keys without a quota, counted here and written in batches.
  const pendingUsage = new Map<string, { count: number; lastUsedAt: string }>();
  let flushTimer: NodeJS.Timeout | undefined;

  async function flush(): Promise<void> {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    const batch = [...pendingUsage];
    pendingUsage.clear();
    await Promise.all(
      batch.map(([id, usage]) =>
        serialized(id, async () => {
          const record = await read(id);
          // A key deleted meanwhile stays deleted.
          if (!record) return;
          const invitesIssued = (record.invitesIssued ?? 0) + usage.count;
          await keyv.set(recordKey(id), { ...record, invitesIssued, lastUsedAt: usage.lastUsedAt });
        }).catch(() => undefined),
      ),
    );
  }

  return {
    create: (host, { name = "", methods = HTTP_METHODS, expiresAt, rate, maxInvites } = {}) =>
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
          ...(expiresAt ? { expiresAt } : {}),
          ...(rate ? { rate } : {}),
          ...(maxInvites !== undefined ? { maxInvites } : {}),
          invitesIssued: 0,
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

    get: (host, id) =>
      guarded("read a key", async () => {
        const record = await read(id);
        return record?.host === host ? publicPart(record) : undefined;
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
      guarded("delete a key", () =>
        serialized(id, async () => {
          const record = await read(id);
          if (!record || record.host !== host) throw new KeyNotFoundError(`no key ${id} for host ${host}`);
          await keyv.delete(recordKey(id));
        }),
      ),

    getRecord: (id) => guarded("read a key", () => read(id)),

    putRecord: (record) =>
      guarded("write a key", async () => {
        await keyv.set(recordKey(record.id), record);
      }),

    reserveInvite: (id, at) =>
      guarded("count an invite", () =>
        serialized(id, async (): Promise<ReserveResult> => {
          const record = await read(id);
          if (!record) return "gone";
          const issued = record.invitesIssued ?? 0;
          if (record.maxInvites !== undefined && issued >= record.maxInvites) return "exhausted";
          await keyv.set(recordKey(id), { ...record, invitesIssued: issued + 1, lastUsedAt: at.toISOString() });
          return "reserved";
        }),
      ),

    releaseInvite: (id) =>
      guarded("count an invite", () =>
        serialized(id, async () => {
          const record = await read(id);
          if (!record) return;
          await keyv.set(recordKey(id), { ...record, invitesIssued: Math.max(0, (record.invitesIssued ?? 0) - 1) });
        }),
      ),

    recordInvite(id, at) {
      const usage = pendingUsage.get(id) ?? { count: 0, lastUsedAt: at.toISOString() };
      usage.count += 1;
      usage.lastUsedAt = at.toISOString();
      pendingUsage.set(id, usage);
      flushTimer ??= setTimeout(() => void flush(), USAGE_FLUSH_MS).unref();
    },

    flush,

    ping: () =>
      guarded("answer", async () => {
        await keyv.has(recordKey("ping"));
      }),

    close: async () => {
      await flush();
      await keyv.disconnect();
    },
  };
}
