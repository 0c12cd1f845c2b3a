import type { Context } from "koa";

/** JSON only when the client asks for it over plain text; the original's plain answers stay the default. */
export const wantsJson = (ctx: Context): boolean =>
  ctx.accepts(["text/plain", "application/json"]) === "application/json";
