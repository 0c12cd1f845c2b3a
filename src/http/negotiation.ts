import type { Context } from "koa";

/** JSON only when the client asks for it over plain text; the original's plain answers stay the default. */
export const wantsJson = (ctx: Context): boolean =>
  ctx.accepts(["text/plain", "application/json"]) === "application/json";

/** The /invites resource speaks JSON only, errors included, whatever the client accepts. */
export const jsonResource = (ctx: Context): boolean => ctx.path === "/invites" || ctx.path.startsWith("/invites/");
