import type { z } from "zod";
import { AppError } from "../errors.js";
import { INVITE_STATES } from "../xmpp/inviteStates.js";
import { LIMITS } from "./wire/requests.js";

/**
 * What each body field and query parameter of /invites takes, in this project's words: a client
 * gets `FIELD: expected …`, never a validator's own text (which names its internals, such as
 * `received NaN` or `<=3153600000`). The limits are those of the schemas in wire/requests.ts.
 */
export const EXPECTED: Readonly<Record<string, string>> = {
  username: "a user name: 1 to 1023 characters, none of space, @, /, \", &, ', <, >, : or a control character",
  ttl: `a whole number of seconds from 1 to ${LIMITS.ttl} (100 years; the host and the key may allow less)`,
  groups: `a list of at most ${LIMITS.groups} group ids, each 1 to ${LIMITS.label} characters with no control character`,
  roles: `a list of at most ${LIMITS.roles} role names, each 1 to ${LIMITS.label} characters with no control character`,
  note: `text of at most ${LIMITS.note} characters with no control character`,
  max_uses: `a whole number from 1 to ${LIMITS.maxUses}`,
  state: `one of ${INVITE_STATES.join(", ")}`,
  limit: `a whole number from 1 to ${LIMITS.page}`,
  after: "a cursor from a previous page's Link header",
  ref: `text of 1 to ${LIMITS.ref} characters with no control character`,
  kind: "account, group or reset",
  invites: `a list of 1 to ${LIMITS.batch} invites`,
};

/** PATCH /budget's fields. */
export const BUDGET_EXPECTED: Readonly<Record<string, string>> = {
  limit: "N/PERIOD such as 50/1d (a period of at least 1m), {count, window_seconds}, or null",
  paused: "true or false",
};

// `invites[3].ttl`: where in the body, as a client would write it.
const pathName = (path: readonly PropertyKey[]) =>
  path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join("");

function has(given: unknown, path: readonly PropertyKey[]): boolean {
  let at = given;
  for (const part of path) {
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, part)) return false;
    at = (at as Record<PropertyKey, unknown>)[part];
  }
  return true;
}

/** The first problem zod found in `given`, as a 400 that names the field and what it takes. */
export function fieldError(
  issues: readonly z.core.$ZodIssue[],
  where: "body" | "query",
  given: unknown,
  expected: Readonly<Record<string, string>> = EXPECTED,
): AppError {
  const issue = issues[0];
  if (!issue) return new AppError("bad_request", `the ${where} is not valid`);
  if (issue.code === "unrecognized_keys") {
    const what = where === "body" ? "field" : "parameter";
    const within = issue.path.length > 0 ? `${pathName(issue.path)}: ` : "";
    return new AppError(
      "bad_request",
      `${within}unknown ${what}${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}`,
    );
  }
  if (issue.path.length === 0) {
    return new AppError("bad_request", where === "body" ? "the body must be a JSON object" : "the query is not valid");
  }
  // The field, as deep as the last name in the path: `groups` for one of its items, `invites[3].ttl` in a batch.
  // A batch item of no known kind: zod may name the union's discriminator apart from the path.
  const discriminator = (issue as { discriminator?: string }).discriminator;
  const path = discriminator && issue.path.at(-1) !== discriminator ? [...issue.path, discriminator] : issue.path;
  const last = path.reduce<number>((found, part, i) => (typeof part === "string" ? i : found), -1);
  const field = path.slice(0, last + 1);
  const name = pathName(field);
  const leaf = String(field.at(-1) ?? "");
  if (where === "query" && issue.code === "invalid_type") return new AppError("bad_request", `${name}: give it once`);
  const takes = expected[leaf] ?? EXPECTED[leaf] ?? "a valid value";
  if (!has(given, field)) return new AppError("bad_request", `${name}: required, ${takes}`);
  return new AppError("bad_request", `${name}: expected ${takes}`);
}
