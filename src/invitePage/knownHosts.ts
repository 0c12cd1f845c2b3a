import type { KnownHost } from "./target.js";

/**
 * `knownHost` over a list of hosts read from the stores at most once per `ttlMs`: a flood of
 * page requests for made-up hosts costs one read of the list, not one per request. Concurrent
 * callers share a read; a failed read is not kept.
 */
export function cachedKnownHosts(
  list: () => Promise<readonly string[]>,
  ttlMs = 30_000,
  now: () => number = Date.now,
): KnownHost {
  let cached: { hosts: Promise<ReadonlySet<string>>; until: number } | undefined;
  return async function knownHost(host) {
    if (!cached || cached.until <= now()) {
      const hosts = list().then((all) => new Set(all));
      cached = { hosts, until: now() + ttlMs };
      hosts.catch(() => {
        if (cached?.hosts === hosts) cached = undefined;
      });
    }
    return (await cached.hosts).has(host);
  };
}
