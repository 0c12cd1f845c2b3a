import type { Context } from "koa";
import { AppError } from "../errors.js";
import { redactUrl } from "../http/accessLog.js";
import { answerFor } from "../http/errors.js";
import { clientAddress } from "../http/clientAddress.js";
import { scrubbed } from "./answer.js";
import type { PageKit } from "./kit.js";
import { inviteTarget } from "./target.js";

/**
 * GET /invite/HOST/TOKEN/name?username=NAME, for the page's script while the person types:
 * `{"name": "free" | "taken" | "invalid"}`; `{"error": CODE}` with 404, 410, 429 (Retry-After) or 5xx.
 * Counted with the page's lookups (INVITE_PAGE_RATE).
 */
export function nameRoute(kit: PageKit) {
  return async function inviteNameCheck(ctx: Context): Promise<void> {
    ctx.set({ "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" });
    try {
      const { host, token } = await inviteTarget(ctx.params ?? {}, kit.knownHost);
      await kit.limits.consumeInviteLookup(clientAddress(ctx.req, kit.trustedProxies));
      const username = typeof ctx.query.username === "string" ? ctx.query.username.trim() : "";
      const name = username ? await kit.door.checkName(host, token, username) : "invalid";
      ctx.body = { name };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const answer = answerFor(err);
      if (answer.status >= 500) {
        kit.log.warn(
          {
            code: err.code,
            err: { name: err.name, message: scrubbed(err.message, ctx.params?.token) },
            url: redactUrl(ctx.url),
          },
          "invite page: name check failed",
        );
      }
      if (answer.retryAfterSeconds) ctx.set("Retry-After", String(answer.retryAfterSeconds));
      ctx.status = answer.status;
      ctx.body = { error: err.code };
    }
  };
}
