import { lookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";

/** Why a webhook URL or the address it leads to is refused. */
export class TargetRefusedError extends Error {
  override readonly name = "TargetRefusedError";
}

/**
 * Whether an address is an ordinary public one. Loopback, private (RFC 1918, unique local),
 * link-local, carrier-grade NAT, multicast, reserved and unspecified ranges are not: a subscription
 * must never become a way into the operator's own network. IPv4-mapped IPv6 counts as its IPv4.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed.range() === "unicast";
}

/** The URL, if its form is acceptable: https (http only when allowed), a host, no credentials. */
export function checkUrl(raw: string, opts: { allowHttp: boolean }): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefusedError("not a URL");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && opts.allowHttp)) {
    throw new TargetRefusedError(
      url.protocol === "http:" ? "http:// needs --allow-http (https:// is the default)" : "the URL must be https://",
    );
  }
  if (url.username || url.password) throw new TargetRefusedError("the URL must not hold a user name or password");
  if (!url.hostname) throw new TargetRefusedError("the URL has no host");
  return url;
}

const bare = (hostname: string) => hostname.replace(/^\[(.*)\]$/, "$1");

/** The addresses a host name resolves to now (a literal address: itself). */
export async function resolveAll(hostname: string): Promise<string[]> {
  const host = bare(hostname);
  if (isIP(host)) return [host];
  return new Promise((resolve, reject) =>
    lookup(host, { all: true }, (err, addresses) =>
      err
        ? reject(new TargetRefusedError(`${host} does not resolve (${err.code ?? "error"})`))
        : resolve(addresses.map((a) => a.address)),
    ),
  );
}

/** At subscription time: refused when any address the host has now is not public (unless allowed). */
export async function checkTarget(url: URL, opts: { allowPrivate: boolean }): Promise<void> {
  if (opts.allowPrivate) return;
  const addresses = await resolveAll(url.hostname);
  const inside = addresses.find((a) => !isPublicAddress(a));
  if (inside) {
    throw new TargetRefusedError(
      `${bare(url.hostname)} leads to ${inside}, not a public address (--allow-private allows it)`,
    );
  }
}

/**
 * The DNS lookup of a delivery's connection: only public addresses are offered to the socket
 * (unless allowed), so the check holds for the address actually connected to, whatever DNS says
 * by then. Literal addresses skip lookup: the delivery checks those itself (and the socket's peer).
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname: string, options: LookupOptions, callback): void => {
    lookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, []);
      const usable = allowPrivate ? addresses : addresses.filter((a) => isPublicAddress(a.address));
      const first = usable[0];
      if (!first) {
        return callback(
          Object.assign(new TargetRefusedError(`${hostname} leads to no public address`), { code: "EPRIVATE" }),
          [],
        );
      }
      if (options.all) return callback(null, usable);
      return callback(null, first.address, first.family);
    });
  };
}

export { bare as bareHostname };
