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
