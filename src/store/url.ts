import { resolve } from "node:path";

/** The kinds of key store KEY_STORE can name. */
export type StoreKind = "sqlite" | "redis" | "postgres";

const SCHEMES: Record<string, StoreKind> = {
  "sqlite:": "sqlite",
  "redis:": "redis",
  "rediss:": "redis",
  "postgres:": "postgres",
  "postgresql:": "postgres",
};

export const KNOWN_SCHEMES = Object.keys(SCHEMES).map((scheme) => `${scheme}//`);

/**
 * A plain path is a SQLite file; anything shaped like `scheme://` must name a known store, so a
 * typo (`postgress://u:pw@db/keys`) is refused instead of becoming a file named after the URL.
 */
export function storeKind(keyStore: string): StoreKind | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(keyStore)?.[1]?.toLowerCase();
  if (scheme === undefined) return "sqlite";
  return SCHEMES[scheme];
}

/**
 * Query parameters that carry a credential: node-postgres reads `?password=` and `?sslpassword=`
 * from a connection string as readily as `user:password@`; anything named like a secret is masked too.
 */
const CREDENTIAL_PARAM = /pass|secret|token/i;

/** The store's kind and where it is, as it may be printed: every credential in the URL is masked. */
export function describeStore(keyStore: string): { kind: string; location: string } {
  const kind = storeKind(keyStore) ?? "unknown";
  if (kind === "sqlite") return { kind, location: resolve(keyStore.replace(/^sqlite:\/\//i, "")) };
  try {
    const url = new URL(keyStore);
    if (url.password) url.password = "****";
    for (const name of [...url.searchParams.keys()]) {
      if (CREDENTIAL_PARAM.test(name)) url.searchParams.set(name, "****");
    }
    return { kind, location: url.toString() };
  } catch {
    return { kind, location: "(a URL that cannot be read)" };
  }
}

/** Every credential a store URL holds (its password, credential parameters), as written and decoded, for redact(). */
export function storeSecrets(keyStore: string): string[] {
  let url: URL;
  try {
    url = new URL(keyStore);
  } catch {
    return [];
  }
  const written = [
    url.password,
    ...url.search
      .slice(1)
      .split("&")
      .map((pair) => pair.split("="))
      .filter(([name = "", value]) => CREDENTIAL_PARAM.test(name) && value)
      .map(([, value = ""]) => value),
  ].filter((value) => value.length > 0);
  const decoded = (value: string) => {
    try {
      return decodeURIComponent(value.replaceAll("+", " "));
    } catch {
      return value;
    }
  };
  return [...new Set(written.flatMap((value) => [value, decoded(value)]))];
}

/** A store's kind and where it is, credentials masked: what its log lines and errors name. */
export function storeName(keyStore: string): string {
  const { kind, location } = describeStore(keyStore);
  return `${kind} ${location}`;
}
