/**
 * Every failure a client can meet has one code here. Where the failure arises it is thrown as an
 * AppError (or a subclass naming its origin); `src/http/errors.ts` is the one place that turns a code
 * into a status and a short message.
 */
export type ErrorCode =
  | "bad_request" // the request itself is malformed
  | "invalid_key" // missing, malformed, unknown, wrong secret, deleted
  | "method_not_allowed" // the key does not allow this HTTP method
  | "not_found" // no such route
  | "xmpp_unavailable" // not connected to Prosody, or the connection dropped mid-call
  | "xmpp_timeout" // Prosody did not answer within INVITE_TIMEOUT_MS
  | "prosody_refused" // Prosody answered with an error: a configuration problem on its side
  | "prosody_bad_reply" // Prosody answered something we cannot read
  | "store_unavailable"; // the key store failed

export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A key the CLI was asked about does not exist (exit status 1, not a crash). */
export class KeyNotFoundError extends Error {
  override readonly name = "KeyNotFoundError";
}
