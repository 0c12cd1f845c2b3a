import type { IncomingMessage } from "node:http";
import accepts from "accepts";
import type { Context } from "koa";

/** JSON only when the client asks for it over plain text; the original's plain answers stay the default. */
export const prefersJson = (req: IncomingMessage): boolean =>
  accepts(req).type(["text/plain", "application/json"]) === "application/json";

export const wantsJson = (ctx: Context): boolean => prefersJson(ctx.req);

/** The /invites, /accounts and /budget resources speak JSON only, errors included, whatever the client accepts. */
export const jsonResource = (ctx: Context): boolean =>
  ctx.path === "/invites" ||
  ctx.path.startsWith("/invites/") ||
  ctx.path.startsWith("/accounts/") ||
  ctx.path === "/budget" ||
  // People's sessions: the admin page's script reads their errors.
  ctx.path === "/session" ||
  ctx.path.startsWith("/session/");
