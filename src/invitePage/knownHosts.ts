import type { KnownHost } from "./target.js";

export interface KnownHostsOptions {
  /** How long a read of the list answers for the hosts in it. */
  readonly ttlMs?: number;
  /**
   * How old a read must be before a host missing from it makes another: a host that just got its
   * first key is known within this, not only after ttlMs, and a flood of made-up hosts costs at
   * most one read per this.
   */
  readonly missMs?: number;
  readonly now?: () => number;
}

/**
 * `knownHost` over a list of hosts read from the stores (keys' and webhook subscriptions' hosts):
 * a known host costs no read for `ttlMs`, an unknown one at most one read per `missMs`. Concurrent
 * callers share a read; a failed read is not kept.
 */
export function cachedKnownHosts(list: () => Promise<readonly string[]>, opts: KnownHostsOptions = {}): KnownHost {
  const { ttlMs = 30_000, missMs = 1_000, now = Date.now } = opts;
  let cached: { hosts: Promise<ReadonlySet<string>>; at: number } | undefined;
  const read = (): Promise<ReadonlySet<string>> => {
    const entry = { hosts: list().then((all) => new Set(all)), at: now() };
    cached = entry;
    entry.hosts.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return entry.hosts;
  };
  const age = () => (cached ? now() - cached.at : Infinity);
  return async function knownHost(host) {
    const hosts = await (age() >= ttlMs || !cached ? read() : cached.hosts);
    if (hosts.has(host)) return true;
    return age() >= missMs ? (await read()).has(host) : false;
  };
}
