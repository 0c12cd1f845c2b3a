import { randomUUID } from "node:crypto";
import type Keyv from "keyv";
import { AppError, KeyNotFoundError } from "../errors.js";
import { formatKey, generateKey, hashSecret, type ParsedKey } from "./apiKey.js";
import { HTTP_METHODS, type KeyInfo, type KeyOptions, type KeyRecord } from "./keyRecord.js";
import { mapKeyRows } from "../store/memory/keyRows.js";
import { memoryUsage } from "../store/memory/usage.js";
import type { ChangeStamp, KeyRecordRows } from "../store/store.js";
import type { CountResult, Usage, UsageCounters } from "../store/usage.js";
import { recordCache } from "./recordCache.js";
import { updateRecord } from "./recordUpdate.js";
import { acceptsSecret, graceUntil, rotatedRecord } from "./rotation.js";

export * from "./keyRecord.js";

export type ReserveResult = "reserved" | "exhausted" | "gone";

export interface KeyStore {
  /** Returns the new record's public part and the `ID/SECRET` string, which exists nowhere else. */
  create(host: string, options?: KeyOptions): Promise<{ info: KeyInfo; key: string }>;
  /**
   * The record when the id exists and the secret matches; undefined otherwise. Cached only where
   * the store tells of every commit (a ChangeStamp), so a change made elsewhere holds at once.
   */
  verify(key: ParsedKey): Promise<KeyInfo | undefined>;
  /** The key with its usage. */
  get(host: string, id: string): Promise<KeyInfo | undefined>;
  list(host: string): Promise<KeyInfo[]>;
  /** The hosts that have keys. */
  hosts(): Promise<string[]>;
  /** Throws KeyNotFoundError when the host has no key with that id. Final: nothing writes the key back. */
  delete(host: string, id: string): Promise<void>;
  /**
   * Gives the key a new secret; the one it had keeps working for `graceMs` (0: ends at once), and
   * any older one ends now (rotation.ts). Id, options and usage stay. One compare-and-set in the
   * store, so that a concurrent delete stays final. Returns the new `ID/SECRET`, which exists
   * nowhere else. Throws KeyNotFoundError when the host has no key with that id.
   */
  rotate(host: string, id: string, graceMs: number): Promise<{ info: KeyInfo; key: string }>;
  /** The stored record of an id, whatever its host (imports compare against it). */
  getRecord(id: string): Promise<KeyRecord | undefined>;
  /** Writes a whole record (an import), its usage counter set from it. */
  putRecord(record: KeyRecord): Promise<void>;
  /**
   * Counts one invite against a key with max-invites before Prosody is asked, atomically in the
   * store, so that no number of concurrent requests or instances passes the quota: "exhausted"
   * when max-invites is reached, "gone" when the key was deleted.
   */
  reserveInvite(id: string, maxInvites: number, at: Date): Promise<ReserveResult>;
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
  /**
   * Writes an entry no key can have, reads it back and removes it: proves the store takes writes
   * (`invites-api check`). The entry expires by itself should the removal fail.
   */
  probeWrite(): Promise<void>;
  close(): Promise<void>;
}

const recordKey = (id: string): string => `key:${id}`;
// Outside the `key:` names, so a probe is never taken for a key (nor a key for a probe).
const probeKey = (): string => `check-probe:${randomUUID()}`;
const PROBE_TTL_MS = 60_000;

export const USAGE_FLUSH_MS = 1_000;

/**
 * The record without its secret hashes and without the usage it carried before counters existed;
 * a rotation's grace only while it runs at `now`.
 */
function publicPart(record: KeyRecord, now: Date, usage?: Usage): KeyInfo {
  const {
    secretHash: _secretHash,
    previousSecretHash: _previousHash,
    previousSecretUntil: _previousUntil,
    invitesIssued,
    lastUsedAt,
    scope,
    scopes,
    ...info
  } = record;
  const current = usage ?? { invitesIssued: invitesIssued ?? 0, ...(lastUsedAt ? { lastUsedAt } : {}) };
  const until = graceUntil(record, now);
  return {
    ...info,
    ...(until ? { previousSecretUntil: until } : {}),
    scopes: scopes ?? [scope ?? "create"],
    ...current,
    accountsRegistered: current.accountsRegistered ?? 0,
  };
}

/** What is written for a key: its usage lives in the counters, never in the record. */
function storedPart(record: KeyRecord): KeyRecord {
  const { invitesIssued: _issued, lastUsedAt: _lastUsed, ...stored } = record;
  return stored;
}

async function guarded<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof KeyNotFoundError || err instanceof AppError) throw err;
    throw new AppError("store_unavailable", `key store failed to ${what}`, { cause: err });
  }
}

export interface KeyStoreOptions {
  readonly now?: () => Date;
  /** Tells of every commit to the store, so that verify() may keep records between them. */
  readonly changes?: ChangeStamp;
  /** The records' rows, for rotate()'s compare-and-set; by default keyv's own Map (memory). */
  readonly rows?: KeyRecordRows;
}

export function createKeyStore(
  keyv: Keyv,
  usage: UsageCounters = memoryUsage(),
  { now = () => new Date(), changes, rows = mapKeyRows(keyv) }: KeyStoreOptions = {},
): KeyStore {
  // keyv reports store failures as "not found" unless told to throw: a broken store must be a 503,
  // never a 403 that looks like a bad key.
  keyv.throwOnErrors = true;
  const read = (id: string) => keyv.get<KeyRecord>(recordKey(id));
  // Raw, so that the cache sees keyv's own expiry too.
  const verifyRead = changes ? recordCache(changes, (id) => keyv.get<KeyRecord>(recordKey(id), { raw: true })) : read;

  /**
   * Adds to a key's counter. A key written before counters existed has none: its counter is made
   * from the usage its record carried, once, and the count tried again. A deleted key stays "missing".
   */
  async function count(id: string, n: number, at: string, max: number | undefined): Promise<CountResult> {
    const result = await usage.add(id, n, at, max);
    if (result !== "missing") return result;
    const record = await read(id);
    if (!record) return "missing";
    await usage.adopt(id, publicPart(record, now()));
    return usage.add(id, n, at, max);
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
      batch.map(([id, pending]) => count(id, pending.count, pending.lastUsedAt, undefined).catch(() => undefined)),
    );
  }

  return {
    create: (
      host,
      { name = "", methods = HTTP_METHODS, expiresAt, rate, maxInvites, scopes, maxTtlSeconds, groups } = {},
    ) =>
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
          scopes: scopes?.length ? [...new Set(scopes)] : ["create"],
          ...(maxTtlSeconds !== undefined ? { maxTtlSeconds } : {}),
          ...(groups?.length ? { groups: [...new Set(groups)] } : {}),
          secretHash: hashSecret(parsed.secret),
        };
        // The counter first: a key is never there without one.
        await usage.create(record.id, { invitesIssued: 0 });
        await keyv.set(recordKey(record.id), record);
        return { info: publicPart(record, now()), key: formatKey(parsed) };
      }),

    verify: (key) =>
      guarded("read a key", async () => {
        const record = await verifyRead(key.id);
        const at = now();
        return acceptsSecret(record, key.secret, at) && record ? publicPart(record, at) : undefined;
      }),

    get: (host, id) =>
      guarded("read a key", async () => {
        const record = await read(id);
        if (record?.host !== host) return undefined;
        return publicPart(record, now(), (await usage.read([id])).get(id));
      }),

    hosts: () =>
      guarded("list hosts", async () => {
        const hosts = new Set<string>();
        if (!keyv.iterator) throw new Error("store cannot list keys");
        for await (const [, value] of keyv.iterator(undefined)) {
          const host = (value as KeyRecord | undefined)?.host;
          if (host) hosts.add(host);
        }
        return [...hosts].sort();
      }),
    list: (host) =>
      guarded("list keys", async () => {
        const found: KeyRecord[] = [];
        if (!keyv.iterator) throw new Error("store cannot list keys");
        for await (const [, value] of keyv.iterator(undefined)) {
          const record = value as KeyRecord | undefined;
          if (record?.host === host) found.push(record);
        }
        const counters = await usage.read(found.map((record) => record.id));
        return found
          .map((record) => publicPart(record, now(), counters.get(record.id)))
          .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
      }),

    delete: (host, id) =>
      guarded("delete a key", async () => {
        const record = await read(id);
        if (!record || record.host !== host) throw new KeyNotFoundError(`no key ${id} for host ${host}`);
        await keyv.delete(recordKey(id));
        pendingUsage.delete(id);
        await usage.remove(id);
      }),

    rotate: (host, id, graceMs) =>
      guarded("rotate a key", async () => {
        const { secret } = generateKey();
        const at = now();
        const rotated = await updateRecord(keyv, rows, recordKey(id), (record) =>
          record.host === host ? rotatedRecord(record, hashSecret(secret), at, graceMs) : undefined,
        );
        if (!rotated) throw new KeyNotFoundError(`no key ${id} for host ${host}`);
        return { info: publicPart(rotated, at), key: formatKey({ id, secret }) };
      }),

    getRecord: (id) => guarded("read a key", () => read(id)),

    putRecord: (record) =>
      guarded("write a key", async () => {
        await usage.create(record.id, publicPart(record, now()));
        await keyv.set(recordKey(record.id), storedPart(record));
      }),

    reserveInvite: (id, maxInvites, at) =>
      guarded("count an invite", async (): Promise<ReserveResult> => {
        const result = await count(id, 1, at.toISOString(), maxInvites);
        return result === "counted" ? "reserved" : result === "exhausted" ? "exhausted" : "gone";
      }),

    releaseInvite: (id) => guarded("count an invite", () => usage.release(id)),

    recordInvite(id, at) {
      const pending = pendingUsage.get(id) ?? { count: 0, lastUsedAt: at.toISOString() };
      pending.count += 1;
      pending.lastUsedAt = at.toISOString();
      pendingUsage.set(id, pending);
      flushTimer ??= setTimeout(() => void flush(), USAGE_FLUSH_MS).unref();
    },

    flush,

    ping: () =>
      guarded("answer", async () => {
        await keyv.has(recordKey("ping"));
      }),

    probeWrite: () =>
      guarded("write", async () => {
        const key = probeKey();
        try {
          await keyv.set(key, { probe: true }, PROBE_TTL_MS);
          if (!(await keyv.has(key))) throw new Error("an entry just written cannot be read back");
        } finally {
          await keyv.delete(key).catch(() => undefined);
        }
      }),

    close: async () => {
      await flush();
      await keyv.disconnect();
    },
  };
}
