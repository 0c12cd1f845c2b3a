/**
 * Every failure a client can meet has one code here. Where the failure arises it is thrown as an
 * AppError (or a subclass naming its origin); `src/http/errors.ts` is the one place that turns a code
 * into a status and a short message.
 */
export const ERROR_CODES = [
  "bad_request", // the request itself is malformed: a field or parameter the message names
  "invalid_json", // a body that does not parse as JSON
  "payload_too_large", // a body over 16 KiB (a batch: 2 MiB)
  "invalid_key", // missing, malformed, unknown, wrong secret, deleted
  "key_expired", // a valid key past its expiry
  "key_exhausted", // a valid key that has issued its --max-invites
  "method_not_allowed", // the key does not allow this HTTP method
  "rate_limited", // the key is over its rate
  "too_many_failures", // this client address failed too many key checks
  "quota_exhausted", // a person made all the invites their quota allows in its window (next_at: when a place frees)
  "insufficient_scope", // the key's scopes do not give the power this request needs (src/keys/powers.ts)
  "account_protected", // the account ranks above invites_manage_roles: only a Prosody admin may do this
  "not_found", // no such route
  "invite_not_found", // no invite with this id on the key's host (in any state)
  "invite_gone", // the invite page's token: used up, expired or revoked
  "user_not_found", // a password reset for an account the host does not have
  "user_exists", // an account invite reserving a name that is taken
  "idempotency_key_reused", // an Idempotency-Key sent again with another body (src/http/idempotency.ts)
  "idempotency_in_progress", // an Idempotency-Key whose first request still runs after the wait
  "unsupported_media_type", // a body that is not JSON
  "not_implemented", // the host lacks what this needs: mod_invites_manage, or Prosody 13
  "registrations_closed", // the host's registrations are paused, or its registration budget is used up for now
  "xmpp_unavailable", // not connected to Prosody, or the connection dropped mid-call
  "xmpp_timeout", // Prosody did not answer within INVITE_TIMEOUT_MS
  "prosody_refused", // Prosody answered with an error: a configuration problem on its side
  "prosody_bad_reply", // Prosody answered something we cannot read
  "store_unavailable", // the key store failed
  "not_signed_in", // no session: no cookie, or one that ended (signed out, idle, past its lifetime, account gone)
  "csrf_refused", // a change with a session cookie, without its X-CSRF-Token or from another site
  "link_invalid", // a sign-in link's token that is unknown, expired or already used
  "sign_in_limited", // too many sign-in links asked for this account or from this address
  "sign_in_unavailable", // people cannot sign in here: PUBLIC_URL is not set
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const CLIENT_ERRORS: ReadonlySet<ErrorCode> = new Set([
  "bad_request",
  "invalid_json",
  "payload_too_large",
  "invalid_key",
  "key_expired",
  "key_exhausted",
  "quota_exhausted",
  "method_not_allowed",
  "insufficient_scope",
  "account_protected",
  "not_found",
  "invite_not_found",
  "invite_gone",
  "user_not_found",
  "user_exists",
  "idempotency_key_reused",
  "idempotency_in_progress",
  "unsupported_media_type",
  "rate_limited",
  "too_many_failures",
  "not_signed_in",
  "csrf_refused",
  "link_invalid",
  "sign_in_limited",
]);

export interface AppErrorOptions {
  readonly cause?: unknown;
  readonly retryAfterSeconds?: number;
  readonly allow?: string;
  /** More fields of the JSON answer beside error and message (quota_exhausted's next_at). */
  readonly details?: Readonly<Record<string, string | number | null>>;
}

export class AppError extends Error {
  override name = "AppError";
  /** For 429 and 503: when the client may try again. */
  readonly retryAfterSeconds?: number;
  /** For 405: the methods that are allowed (RFC 9110 requires the Allow header). */
  readonly allow?: string;
  readonly details?: Readonly<Record<string, string | number | null>>;
  constructor(code: ErrorCode, message: string, options?: AppErrorOptions);
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    // A client's mistake needs no stack trace, and capturing one is a real cost in a bad-key flood.
    const limit = Error.stackTraceLimit;
    if (CLIENT_ERRORS.has(code)) Error.stackTraceLimit = 0;
    super(message, { cause: options.cause });
    Error.stackTraceLimit = limit;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    if (options.allow !== undefined) this.allow = options.allow;
    if (options.details !== undefined) this.details = options.details;
  }
}

/** A key the CLI was asked about does not exist (exit status 1, not a crash). */
export class KeyNotFoundError extends Error {
  override readonly name = "KeyNotFoundError";
}
