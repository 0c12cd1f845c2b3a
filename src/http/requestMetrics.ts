import type { Context, Next } from "koa";
import type { Metrics } from "../metrics/metrics.js";

/** Counts every answer by route (the route's pattern, never the raw URL), method and status. */
export function requestMetrics(metrics: Metrics) {
  return async function requestMetrics(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } finally {
      const route = (ctx as Context & { _matchedRoute?: string | RegExp })._matchedRoute;
      metrics.request(typeof route === "string" ? route : "unmatched", ctx.method, ctx.status);
    }
  };
}

/** Maps the error codes the error middleware sees onto the metrics that count them. */
export function countError(metrics: Metrics) {
  return (code: string): void => {
    if (code === "rate_limited") metrics.rateLimited("key");
    else if (code === "too_many_failures") metrics.rateLimited("address");
    else if (code === "invalid_key" || code === "key_expired" || code === "key_exhausted") metrics.authFailure(code);
  };
}
