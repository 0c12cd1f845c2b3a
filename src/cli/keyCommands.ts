import { formatRate } from "../keys/durations.js";
import { createKeyStore, type KeyInfo, type KeyOptions, type KeyStore } from "../keys/keyStore.js";
import { KeyNotFoundError } from "../errors.js";
import { withStore, type StoreNotes } from "./cliStore.js";

export interface Output extends StoreNotes {
  out(line: string): void;
}

type Env = Record<string, string | undefined>;

/** Opens the store KEY_STORE names, runs one command, closes it: no XMPP settings needed. */
export async function withKeyStore<T>(
  env: Env,
  io: Output,
  opts: { writes: boolean },
  work: (keys: KeyStore) => Promise<T>,
): Promise<T> {
  return withStore(env, io, opts, async (store) => {
    const keys = createKeyStore(store.keyRecords, store.usage, { rows: store.keyRows });
    try {
      return await work(keys);
    } finally {
      await keys.flush().catch(() => undefined);
    }
  });
}

export async function createKey(keys: KeyStore, io: Output, host: string, options: KeyOptions): Promise<void> {
  const { key } = await keys.create(host, options);
  // The only time the secret exists outside the client: alone on the last line, like prosodyctl.
  io.out(key);
}

export async function listKeys(keys: KeyStore, io: Output, host: string, json: boolean): Promise<void> {
  const found = await keys.list(host);
  if (json) io.out(JSON.stringify(found, null, 2));
  // A confined key says so on its line, after its name: ID<TAB>NAME<TAB>groups:a,b.
  else for (const info of found) io.out([info.id, info.name, ...circlesOf(info)].join("\t"));
}

export async function showKey(keys: KeyStore, io: Output, host: string, id: string, json: boolean): Promise<void> {
  const info = await keys.get(host, id);
  if (!info) throw new KeyNotFoundError(`no key ${id} for host ${host}`);
  if (json) {
    io.out(JSON.stringify(info, null, 2));
    return;
  }
  for (const [label, value] of describe(info)) io.out(`${`${label}:`.padEnd(14)}${value}`);
}

const circlesOf = (info: KeyInfo): string[] => (info.groups?.length ? [`groups:${info.groups.join(",")}`] : []);

function describe(info: KeyInfo): Array<[string, string]> {
  return [
    ["id", info.id],
    ["host", info.host],
    ["name", info.name],
    ["created", info.createdAt],
    ["methods", info.methods.join(",")],
    ["expires", info.expiresAt ?? "never"],
    ["rate", info.rate ? formatRate(info.rate) : "service default (DEFAULT_KEY_RATE)"],
    ["max invites", info.maxInvites === undefined ? "no limit" : String(info.maxInvites)],
    ["scopes", info.scopes.join(",")],
    ["groups", info.groups?.length ? info.groups.join(",") : "any (not confined to circles)"],
    ["max ttl", info.maxTtlSeconds === undefined ? "Prosody's" : `${info.maxTtlSeconds}s`],
    ["invites", String(info.invitesIssued)],
    ["last used", info.lastUsedAt ?? "never"],
    ["accounts", String(info.accountsRegistered)],
    ["last account", info.lastRegistrationAt ?? "never"],
    ...(info.importedFrom ? [["imported from", info.importedFrom] as [string, string]] : []),
    ...(info.rotatedAt ? [["rotated", info.rotatedAt] as [string, string]] : []),
    ...(info.previousSecretUntil
      ? [["old secret", `works until ${info.previousSecretUntil}`] as [string, string]]
      : []),
  ];
}

/** Gives the key a new secret, printed once, alone on the last line as `create` prints a key. */
export async function rotateKey(keys: KeyStore, io: Output, host: string, id: string, graceMs: number): Promise<void> {
  const { info, key } = await keys.rotate(host, id, graceMs);
  const old = info.previousSecretUntil
    ? `the old one works until ${info.previousSecretUntil}`
    : "the old one no longer works";
  io.out(`key ${id} of ${host} has a new secret; ${old}`);
  io.out(key);
}

export async function deleteKey(keys: KeyStore, io: Output, host: string, id: string): Promise<void> {
  await keys.delete(host, id);
  io.out(`deleted key ${id} of ${host}`);
}
