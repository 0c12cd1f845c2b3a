import type { Context, Next } from "koa";
import { AppError } from "../errors.js";
import { parseKey } from "../keys/apiKey.js";
import type { KeyInfo, KeyStore } from "../keys/keyStore.js";

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

export function requireApiKey(opts: { keys: KeyStore }) {
  return async function requireApiKey(ctx: Context, next: Next): Promise<void> {
    const parsed = parseKey(keyFromRequest(ctx));
    if (!parsed) throw new AppError("invalid_key", "missing or malformed key");
    const apiKey = await opts.keys.verify(parsed);
    if (!apiKey) throw new AppError("invalid_key", "unknown key or wrong secret");
    (ctx.state as ApiKeyState).apiKey = apiKey;
    await next();
  };
}
