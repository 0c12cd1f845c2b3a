import type { Context, Next } from "koa";
import { AppError } from "../errors.js";
import type { RateLimits } from "../limits/rateLimits.js";
import type { ApiKeyState } from "./requireApiKey.js";

/**
 * What a valid key may do: nothing after its expiry; on /invites_api only its methods; at most its
 * rate of invites (`invites: false` for listing, showing and revoking, which make none and count
 * against MANAGE_RATE instead; `invites: "counted"` for a batch, which counts its invites itself).
 */
export function keyPolicy(opts: {
  limits: RateLimits;
  now: () => Date;
  methods?: boolean;
  invites?: boolean | "counted";
}) {
  const { methods = true, invites = true } = opts;
  return async function keyPolicy(ctx: Context, next: Next): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    if (apiKey.expiresAt && Date.parse(apiKey.expiresAt) <= opts.now().getTime()) {
      throw new AppError("key_expired", `key ${apiKey.id} expired at ${apiKey.expiresAt}`);
    }
    if (!methods) {
      if (invites === true) await opts.limits.consumeKey(apiKey.id, apiKey.rate);
      else if (invites === false) await opts.limits.consumeManage(apiKey.id);
      return next();
    }
    // @koa/router answers HEAD with the GET handler; a HEAD must never create an invite.
    const method = ctx.method === "HEAD" ? undefined : ctx.method;
    if (!apiKey.methods.some((allowed) => allowed === method)) {
      throw new AppError("method_not_allowed", `key ${apiKey.id} does not allow ${ctx.method}`, {
        allow: [...apiKey.methods, "OPTIONS"].join(", "),
      });
    }
    await opts.limits.consumeKey(apiKey.id, apiKey.rate);
    await next();
  };
}
