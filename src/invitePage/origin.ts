import type { Context } from "koa";

// The last value a proxy appended to a header it may repeat (X-Forwarded-Proto: https, http).
const lastValue = (header: string) => header.split(",").pop()?.trim() ?? "";

/**
 * The origin the person's browser sees: behind trusted proxies (TRUST_PROXY), the scheme and host
 * they forward (X-Forwarded-Proto, X-Forwarded-Host) when they send them, else the request's own.
 * The QR code encodes the page's link under it.
 */
export function publicOrigin(ctx: Context, trustedProxies: number): { scheme: string; host: string } {
  const proto = trustedProxies > 0 ? lastValue(ctx.get("X-Forwarded-Proto")) : "";
  const host = trustedProxies > 0 ? lastValue(ctx.get("X-Forwarded-Host")) : "";
  return { scheme: /^https?$/.test(proto) ? proto : ctx.protocol, host: host || ctx.host };
}

/**
 * Whether a form post comes from this service's own page: refused when the browser says it comes
 * from another site (Sec-Fetch-Site), or sends an Origin whose host is not this one. The scheme is
 * not compared: a proxy ending TLS without X-Forwarded-Proto would otherwise refuse every post, and
 * an attacker cannot serve a page from this host's name over the other scheme without owning it.
 */
export function sameOrigin(ctx: Context, trustedProxies: number): boolean {
  const site = ctx.get("Sec-Fetch-Site");
  if (site && site !== "same-origin" && site !== "none") return false;
  const origin = ctx.get("Origin");
  if (!origin) return true;
  try {
    // Both through URL, which drops a default port and lowercases the name alike.
    const own = publicOrigin(ctx, trustedProxies);
    return new URL(origin).host === new URL(`${new URL(origin).protocol}//${own.host}`).host;
  } catch {
    // "null" (a sandboxed frame, a redirect across sites) and anything unreadable.
    return false;
  }
}
