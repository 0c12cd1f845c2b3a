import type { Context, Next } from "koa";
import type { IncomingMessage } from "node:http";
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
export function keyFrom(
  authorization: string | undefined,
  queryKey: string | string[] | undefined,
): string | undefined {
  if (authorization) {
    const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!match) throw new AppError("invalid_key", "unsupported Authorization header");
    return match[1];
  }
  if (Array.isArray(queryKey)) throw new AppError("bad_request", "give the key parameter once");
  return queryKey;
}

export interface KeyCheck {
  readonly keys: KeyStore;
  readonly limits: RateLimits;
  readonly trustedProxies: number;
}

/**
 * Checks the key, counting each failure against the client's address: past the failed-attempt
 * limit the address gets 429 before its key is even looked at, so keys cannot be guessed at speed.
 */
export async function checkKey(
  opts: KeyCheck,
  req: IncomingMessage,
  queryKey: string | string[] | undefined,
): Promise<KeyInfo> {
  const address = clientAddress(req, opts.trustedProxies);
  await opts.limits.assertNotBlocked(address);
  try {
    const parsed = parseKey(keyFrom(req.headers.authorization, queryKey));
    if (!parsed) throw new AppError("invalid_key", "missing or malformed key");
    const apiKey = await opts.keys.verify(parsed);
    if (!apiKey) throw new AppError("invalid_key", "unknown key or wrong secret");
    return apiKey;
  } catch (err) {
    if (err instanceof AppError && (err.code === "invalid_key" || err.code === "bad_request")) {
      await opts.limits.recordFailure(address);
    }
    throw err;
  }
}

// A key the gate in front of Koa (keyGate.ts) has already checked for this request, or the failure
// it left for Koa to answer (a store that failed or missed its deadline).
const CHECKED = Symbol("invites-api checked key");
const FAILED = Symbol("invites-api failed key check");
type Checked = IncomingMessage & { [CHECKED]?: KeyInfo; [FAILED]?: { readonly err: unknown } };

export const markChecked = (req: IncomingMessage, apiKey: KeyInfo): void => {
  (req as Checked)[CHECKED] = apiKey;
};

export const markFailed = (req: IncomingMessage, err: unknown): void => {
  (req as Checked)[FAILED] = { err };
};

/**
 * The key check as Koa middleware; a key the gate checked is not checked (nor counted) twice, nor
 * is a check that failed there asked of the store again: a store past its deadline would make the
 * client wait twice.
 */
export function requireApiKey(opts: KeyCheck) {
  return async function requireApiKey(ctx: Context, next: Next): Promise<void> {
    const req = ctx.req as Checked;
    if (req[FAILED]) throw req[FAILED].err;
    (ctx.state as ApiKeyState).apiKey = req[CHECKED] ?? (await checkKey(opts, ctx.req, ctx.query.key));
    await next();
  };
}
