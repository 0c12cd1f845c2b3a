import { ApiError } from "./api.js";

/** The create form's fields, by the name the API gives them in its messages. */
export const FIELDS = ["username", "groups", "max_uses", "ttl", "roles", "note"] as const;
export type Field = (typeof FIELDS)[number];

// Refusals that are about the account the form names.
const BY_CODE: Record<string, Field> = {
  user_exists: "username",
  user_not_found: "username",
  account_protected: "username",
};

/**
 * The field an API error is about: the service names it first ("username: not a valid user name"),
 * Prosody's messages name it in words ("unknown group staff", "roles need Prosody 13").
 */
export function fieldOf(err: unknown): Field | undefined {
  if (!(err instanceof ApiError)) return undefined;
  const byCode = BY_CODE[err.code];
  if (byCode) return byCode;
  if (err.code !== "bad_request" && err.code !== "not_implemented") return undefined;
  const first = /^([a-z_]+)\b/.exec(err.message)?.[1];
  const named = FIELDS.find((field) => field === first);
  if (named) return named;
  if (/\bgroups?\b/.test(err.message)) return "groups";
  if (/\broles?\b/.test(err.message)) return "roles";
  return undefined;
}

export const when = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "numeric",
  minute: "2-digit",
});

/** What a refusal says to a person: the service's message as a sentence, or their quota in words. */
export function refusalText(err: unknown): string {
  if (err instanceof ApiError && err.code === "quota_exhausted") {
    return err.nextAt
      ? `You have made all the invites your quota allows for now. The next one frees on ${when.format(new Date(err.nextAt))}.`
      : "You have made all the invites your quota allows for now.";
  }
  return sentence(err instanceof Error ? err.message : String(err));
}

/** "username: not a valid user name" → "Not a valid user name." */
export function sentence(message: string): string {
  const text = message.replace(/^[a-z_]+(\.\d+)?: /, "").trim();
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}`;
}
