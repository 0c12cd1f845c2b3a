import type { Context, Next } from "koa";
import { AppError } from "../errors.js";
import { parseKey } from "../keys/apiKey.js";
import type { KeyInfo, KeyStore } from "../keys/keyStore.js";
import type { RateLimits } from "../limits/rateLimits.js";
import { clientAddress } from "./clientAddress.js";

export interface ApiKeyState {
  apiKey: KeyInfo;
}

/**
 * The key comes from `Authorization: Bearer ID/SECRET` (any case of "Bearer") or, without that
 * header, from `?key=ID/SECRET`, as in mod_invites_api. Any doubt is a 403 before Prosody is asked.
 */
export function keyFromRequest(ctx: Context): string | undefined {
  const header = ctx.get("Authorization");
  if (header) {
    const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match) throw new AppError("invalid_key", "unsupported Authorization header");
    return match[1];
  }
  const key = ctx.query.key;
  if (Array.isArray(key)) throw new AppError("bad_request", "give the key parameter once");
  return key;
}

/**
 * Checks the key, counting each failure against the client's address: past the failed-attempt
 * limit the address gets 429 before its key is even looked at, so keys cannot be guessed at speed.
 */
export function requireApiKey(opts: { keys: KeyStore; limits: RateLimits; trustedProxies: number }) {
  return async function requireApiKey(ctx: Context, next: Next): Promise<void> {
    const address = clientAddress(ctx.req, opts.trustedProxies);
    await opts.limits.assertNotBlocked(address);
    let apiKey: KeyInfo | undefined;
    try {
      const parsed = parseKey(keyFromRequest(ctx));
      if (!parsed) throw new AppError("invalid_key", "missing or malformed key");
      apiKey = await opts.keys.verify(parsed);
      if (!apiKey) throw new AppError("invalid_key", "unknown key or wrong secret");
    } catch (err) {
      if (err instanceof AppError && (err.code === "invalid_key" || err.code === "bad_request")) {
        await opts.limits.recordFailure(address);
      }
      throw err;
    }
    (ctx.state as ApiKeyState).apiKey = apiKey;
    await next();
  };
}
