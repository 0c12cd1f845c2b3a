import type { Context, Next } from "koa";

/**
 * CORS as mod_invites_api sends it, on every answer (not only to requests with an Origin, which is
 * why @koa/cors does not fit): `*`, or the request's Origin on a preflight. Beyond the original:
 * POST and Authorization are allowed, so a browser can send the Bearer header, and Location is
 * exposed, so a page can read the invite link; DELETE and PATCH are allowed and Link exposed for the
 * /invites resource; Idempotency-Key may be sent and Idempotent-Replayed read. A preflight needs no key.
 */
export const CORS_HEADERS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE, OPTIONS",
  "Access-Control-Allow-Headers": "Content-Type, Authorization, Idempotency-Key",
  "Access-Control-Expose-Headers": "Location, Link, Idempotent-Replayed",
  "Access-Control-Max-Age": "7200",
} as const;

export function originalCors() {
  return async function originalCors(ctx: Context, next: Next): Promise<void> {
    const preflight = ctx.method === "OPTIONS";
    ctx.set({ ...CORS_HEADERS, "Access-Control-Allow-Origin": (preflight && ctx.get("Origin")) || "*" });
    if (preflight) {
      ctx.status = 204;
      return;
    }
    await next();
  };
}
