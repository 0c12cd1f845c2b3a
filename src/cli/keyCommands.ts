import { loadStoreConfig } from "../config.js";
import { createKeyStore, type KeyOptions, type KeyStore } from "../keys/keyStore.js";
import { openKeyv } from "../keys/openStore.js";

export interface Output {
  out(line: string): void;
}

type Env = Record<string, string | undefined>;

/** Opens the store KEY_STORE names, runs one command, closes it: no XMPP settings needed. */
export async function withKeyStore<T>(env: Env, work: (keys: KeyStore) => Promise<T>): Promise<T> {
  const config = loadStoreConfig(env);
  const keys = createKeyStore(openKeyv(config.keyStore));
  try {
    return await work(keys);
  } finally {
    await keys.close().catch(() => undefined);
  }
}

export async function createKey(keys: KeyStore, io: Output, host: string, options: KeyOptions): Promise<void> {
  const { key } = await keys.create(host, options);
  // The only time the secret exists outside the client: alone on the last line, like prosodyctl.
  io.out(key);
}

export async function listKeys(keys: KeyStore, io: Output, host: string): Promise<void> {
  for (const info of await keys.list(host)) io.out(`${info.id}\t${info.name}`);
}

export async function deleteKey(keys: KeyStore, io: Output, host: string, id: string): Promise<void> {
  await keys.delete(host, id);
  io.out(`deleted key ${id} of ${host}`);
}
