import type { Context, Next } from "koa";
import { AppError, type ErrorCode } from "../errors.js";
import type { Logger } from "../log.js";
import type { ErrorJson } from "./apiTypes.js";
import { redactUrl } from "./accessLog.js";
import { jsonResource, wantsJson } from "./negotiation.js";

interface Answer {
  readonly status: number;
  /** Short, safe for any client; never the internal message. */
  readonly message: string;
  readonly retryAfterSeconds?: number;
}

// The one place where a failure becomes a status. `satisfies` keeps it exhaustive.
const ANSWERS = {
  bad_request: { status: 400, message: "bad request" },
  invalid_json: { status: 400, message: "the body is not valid JSON" },
  payload_too_large: { status: 413, message: "the body is too large (16 KiB; a batch 2 MiB)" },
  invalid_key: { status: 403, message: "invalid API key" },
  key_expired: { status: 403, message: "this API key has expired" },
  key_exhausted: { status: 403, message: "this API key has issued all the invites it may (max-invites)" },
  rate_limited: { status: 429, message: "too many requests for this API key, retry later" },
  too_many_failures: { status: 429, message: "too many failed key attempts from this address, retry later" },
  quota_exhausted: { status: 429, message: "you made all the invites your quota allows for now" },
  method_not_allowed: { status: 405, message: "this API key does not allow this method" },
  insufficient_scope: { status: 403, message: "this API key's scope does not allow this" },
  account_protected: { status: 403, message: "only a Prosody admin may do this for this account" },
  not_found: { status: 404, message: "not found" },
  invite_not_found: { status: 404, message: "no invite with this id on this host" },
  invite_gone: { status: 410, message: "this invite was used up, has expired or was revoked" },
  user_not_found: { status: 404, message: "no such account on this host" },
  user_exists: { status: 409, message: "an account with this name already exists" },
  idempotency_key_reused: { status: 409, message: "this Idempotency-Key was used with another request" },
  idempotency_in_progress: {
    status: 409,
    message: "a request with this Idempotency-Key is still running, retry later",
    retryAfterSeconds: 1,
  },
  unsupported_media_type: { status: 415, message: "send the body as application/json" },
  not_implemented: { status: 501, message: "the XMPP server lacks what this needs" },
  registrations_closed: {
    status: 503,
    message: "registrations on this host are paused or over their budget for now, retry later",
  },
  xmpp_unavailable: { status: 503, message: "the XMPP server is unavailable, retry later", retryAfterSeconds: 5 },
  xmpp_timeout: { status: 504, message: "the XMPP server did not answer in time" },
  prosody_refused: { status: 502, message: "the XMPP server refused to create the invite" },
  prosody_bad_reply: { status: 502, message: "the XMPP server sent an unreadable answer" },
  store_unavailable: { status: 503, message: "the key store is unavailable, retry later", retryAfterSeconds: 5 },
  not_signed_in: { status: 401, message: "not signed in, or the session has ended" },
  csrf_refused: { status: 403, message: "refused: a change needs the session's X-CSRF-Token, from this site" },
  link_invalid: { status: 401, message: "this sign-in link has been used or has expired" },
  sign_in_limited: { status: 429, message: "too many sign-in links asked for, retry later" },
  sign_in_unavailable: { status: 501, message: "signing in is not set up on this service (PUBLIC_URL)" },
} as const satisfies Record<ErrorCode, Answer>;

// registrations_closed: its message says which, paused or the budget used up until when.
const EXPLAINED: ReadonlySet<ErrorCode> = new Set([
  "bad_request",
  "not_implemented",
  "insufficient_scope",
  "registrations_closed",
  "quota_exhausted",
]);

const KOA_CODES: Record<number, ErrorCode> = { 400: "bad_request", 404: "not_found", 405: "method_not_allowed" };

export function answerFor(
  err: unknown,
): Answer & { code: ErrorJson["error"]; details?: Readonly<Record<string, string | number | null>> } {
  if (err instanceof AppError) {
    const answer: Answer = ANSWERS[err.code];
    // Our own messages for these say exactly what to fix and never carry a secret.
    const message = EXPLAINED.has(err.code) ? err.message : answer.message;
    const retryAfterSeconds = err.retryAfterSeconds ?? answer.retryAfterSeconds;
    return {
      ...answer,
      message,
      code: err.code,
      ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
      ...(err.details ? { details: err.details } : {}),
    };
  }
  // Koa's own client errors (ctx.throw): keep the status, expose only safe text.
  const httpError = err as {
    status?: unknown;
    expose?: boolean;
    message?: string;
    type?: unknown;
    body?: unknown;
    limit?: unknown;
  };
  const bodyError = bodyParserError(httpError);
  // raw-body says the route's own limit (16 KiB for most, 4 KiB for /session's, 2 MiB for a batch).
  if (bodyError === "payload_too_large" && typeof httpError.limit === "number" && httpError.limit > 0) {
    const kib = httpError.limit / 1024;
    const size = kib >= 1024 ? `${kib / 1024} MiB` : `${kib} KiB`;
    return {
      ...ANSWERS[bodyError],
      message: `the body is too large: this route takes at most ${size}`,
      code: bodyError,
    };
  }
  if (bodyError) return { ...ANSWERS[bodyError], code: bodyError };
  if (typeof httpError.status === "number" && httpError.status >= 400 && httpError.status < 500) {
    return {
      status: httpError.status,
      message: httpError.expose ? String(httpError.message) : "bad request",
      code: KOA_CODES[httpError.status] ?? "bad_request",
    };
  }
  return { status: 500, message: "internal error", code: "internal" };
}

/**
 * The body parser's failures (@koa/bodyparser, through co-body and raw-body): a body over the limit
 * (`entity.too.large`), and JSON that does not parse (co-body's 400, which carries the raw `body`).
 */
function bodyParserError(err: { status?: unknown; type?: unknown; body?: unknown }): ErrorCode | undefined {
  if (err.type === "entity.too.large" || err.status === 413) return "payload_too_large";
  if (err.status === 400 && (err.type === "entity.parse.failed" || typeof err.body === "string")) return "invalid_json";
  return undefined;
}

/** An error's body: `{"error": CODE, "message": …}` in JSON, else the message as a line of text. */
export function errorBody(
  answer: { code: ErrorJson["error"]; message: string; details?: Readonly<Record<string, string | number | null>> },
  json: boolean,
): { type: string; body: string } {
  const body = { ...answer.details, error: answer.code, message: answer.message } satisfies ErrorJson;
  return json
    ? { type: "application/json; charset=utf-8", body: JSON.stringify(body) }
    : { type: "text/plain; charset=utf-8", body: `${answer.message}\n` };
}

/**
 * First middleware inside CORS: turns every thrown error into a short answer, plain text by
 * default, `{"error": CODE, "message": …}` when the client asks for JSON. `onError` sees each code
 * (for metrics).
 */
export function errorResponses(log: Logger, onError: (code: string) => void = () => {}) {
  return async function errorResponses(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      const answer = answerFor(err);
      onError(answer.code);
      if (answer.status >= 500) {
        const level = answer.code === "internal" ? "error" : "warn";
        // The target as the access line shows it: never an invite's token nor a key.
        log[level]({ code: answer.code, err: errorSummary(err), url: redactUrl(ctx.url) }, "request failed");
      }
      ctx.status = answer.status;
      if (answer.retryAfterSeconds) ctx.set("Retry-After", String(answer.retryAfterSeconds));
      if (err instanceof AppError && err.allow) ctx.set("Allow", err.allow);
      const { type, body } = errorBody(answer, jsonResource(ctx) || wantsJson(ctx));
      ctx.type = type;
      ctx.body = body;
    }
  };
}

// Messages of our own errors carry no secrets; a stack only for what we did not foresee.
function errorSummary(err: unknown): Record<string, unknown> {
  if (err instanceof AppError) return { name: err.name, message: err.message };
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { value: String(err) };
}
