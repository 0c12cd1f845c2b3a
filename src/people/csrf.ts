// Changes made with a session cookie (the browser sends it by itself) must prove they come from the
// service's own page: the session's anti-CSRF token in X-CSRF-Token, which only a script of this
// origin can read (GET /session) and send (another origin's preflight is refused: CORS does not
// allow the header), and, as a second wall, the browser's own word on where the request comes from.
import { timingSafeEqual } from "node:crypto";
import type { Context } from "koa";
import { sameOrigin } from "../invitePage/origin.js";

/** What never changes anything, so needs no token (RFC 9110 §9.2.1). */
const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

export const CSRF_HEADER = "X-CSRF-Token";

/** Whether a request made with the session whose token is `csrf` may go on. */
export function csrfPasses(ctx: Context, csrf: string, trustedProxies: number): boolean {
  if (SAFE_METHODS.has(ctx.method)) return true;
  const sent = Buffer.from(ctx.get(CSRF_HEADER), "utf8");
  const expected = Buffer.from(csrf, "utf8");
  // timingSafeEqual needs equal lengths; a length differs only for a token that is wrong anyway.
  const tokenMatches = sent.length === expected.length && expected.length > 0 && timingSafeEqual(sent, expected);
  return tokenMatches && sameOrigin(ctx, trustedProxies);
}
