import type { Context } from "koa";
import { redactUrl } from "../http/accessLog.js";
import { answerFor } from "../http/errors.js";
import { AppError } from "../errors.js";
import type { Html } from "./html.js";
import type { PageKit } from "./kit.js";
import { pageRequest, sendPage, type PageRequest } from "./page.js";
import { inviteTarget, type InviteTarget } from "./target.js";
import { problemPage } from "./views/problem.js";

export interface PageAnswer {
  readonly status: number;
  readonly page: Html;
}

/** An error's message without the token, whatever layer wrote it: error logs never carry one. */
export const scrubbed = (message: string, token: string | undefined): string =>
  token ? message.split(token).join("[token]") : message;

/**
 * Runs a page route for /invite/HOST/TOKEN: checks the target first (a bad token or an unknown host
 * is the "not valid" page and nothing reaches Prosody), then answers with what `build` returns, or
 * with the page for the error it throws: 404 not valid, 410 no longer usable, 429 too many (with
 * Retry-After), 503 registrations paused or over the host's budget (Retry-After when known), 5xx
 * the server unavailable (logged, without the token).
 */
export async function answerPage(
  ctx: Context,
  kit: PageKit,
  build: (page: PageRequest, target: InviteTarget) => Promise<PageAnswer>,
): Promise<void> {
  let target: InviteTarget | undefined;
  try {
    target = await inviteTarget(ctx.params ?? {}, kit.knownHost);
  } catch {
    // Not an error of the service: nothing to log.
  }
  const page = pageRequest(ctx, target, kit.translate, kit.assets.names);
  const { t } = page;
  try {
    if (!target) throw new AppError("invite_not_found", "no such invite");
    const answer = await build(page, target);
    sendPage(ctx, answer.status, answer.page);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const answer = answerFor(err);
    if (answer.retryAfterSeconds) ctx.set("Retry-After", String(answer.retryAfterSeconds));
    if (err.code === "invite_not_found") {
      return sendPage(ctx, 404, problemPage(page, t("problem.notFoundTitle"), t("problem.notFoundText")));
    }
    if (err.code === "invite_gone") {
      return sendPage(ctx, 410, problemPage(page, t("gone.title"), t("gone.askAgain")));
    }
    // The host's pause or its budget used up: the invite still works, later (Retry-After when Prosody says when).
    if (err.code === "registrations_closed") {
      const host = target?.host ?? "";
      return sendPage(
        ctx,
        503,
        problemPage(page, t("problem.pausedTitle", { host }), t("problem.pausedText", { host }), true),
      );
    }
    if (err.code === "rate_limited") {
      return sendPage(ctx, 429, problemPage(page, t("problem.tooManyTitle"), t("problem.tooManyText"), true));
    }
    if (answer.status >= 500) {
      kit.log.warn(
        {
          code: err.code,
          err: { name: err.name, message: scrubbed(err.message, target?.token) },
          url: redactUrl(ctx.url),
        },
        "invite page: request failed",
      );
    }
    // Nothing else is expected of the door; a client error of another kind reads as a link not valid.
    const problem =
      answer.status >= 500
        ? problemPage(page, t("problem.unavailableTitle"), t("problem.unavailableText"), true)
        : problemPage(page, t("problem.notFoundTitle"), t("problem.notFoundText"));
    sendPage(ctx, answer.status, problem);
  }
}
