// The session cookie (RFC 6265bis): `__Host-invites_session` with Secure when PUBLIC_URL is https,
// which the browser then keeps only for this exact host, over https, at Path=/; `invites_session`
// without Secure only when PUBLIC_URL is a loopback address (config.ts refuses plain http elsewhere).
// https://datatracker.ietf.org/doc/html/draft-ietf-httpbis-rfc6265bis#name-cookie-name-prefixes
import type { Context } from "koa";

/** A session id: 32 random bytes, base64url without padding. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export interface SessionCookie {
  /** The id a request's cookie carries, or undefined: none, or not the shape of one (then ignored). */
  read(ctx: Context): string | undefined;
  /** Sets the cookie to `id` for `maxAgeMs`. */
  set(ctx: Context, id: string, maxAgeMs: number): void;
  /** Tells the browser to drop the cookie. */
  clear(ctx: Context): void;
}

export const cookieName = (secure: boolean): string => (secure ? "__Host-invites_session" : "invites_session");

export function sessionCookie(secure: boolean): SessionCookie {
  const name = cookieName(secure);
  // HttpOnly: the page's script never reads it. SameSite=Strict: no other site's page sends it.
  const attributes = `Path=/; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
  return {
    read(ctx) {
      // Koa's Cookies, unsigned: the value is a random id the store must know, nothing to sign.
      const value = ctx.cookies.get(name);
      return value !== undefined && SESSION_ID.test(value) ? value : undefined;
    },
    set(ctx, id, maxAgeMs) {
      // Written by hand: Koa's Cookies refuses Secure on a request that reached it over plain http,
      // which is every request behind a proxy that ends TLS.
      ctx.append("Set-Cookie", `${name}=${id}; Max-Age=${Math.max(1, Math.floor(maxAgeMs / 1_000))}; ${attributes}`);
    },
    clear(ctx) {
      ctx.append("Set-Cookie", `${name}=; Max-Age=0; ${attributes}`);
    },
  };
}
