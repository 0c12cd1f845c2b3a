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
};

/** The first problem zod found in `given`, as a 400 that names the field and what it takes. */
export function fieldError(issues: readonly z.core.$ZodIssue[], where: "body" | "query", given: unknown): AppError {
  const issue = issues[0];
  if (!issue) return new AppError("bad_request", `the ${where} is not valid`);
  if (issue.code === "unrecognized_keys") {
    const what = where === "body" ? "field" : "parameter";
    return new AppError("bad_request", `unknown ${what}${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}`);
  }
  const field = issue.path[0];
  if (field === undefined) {
    return new AppError("bad_request", where === "body" ? "the body must be a JSON object" : "the query is not valid");
  }
  const name = String(field);
  if (where === "query" && issue.code === "invalid_type") return new AppError("bad_request", `${name}: give it once`);
  const present = typeof given === "object" && given !== null && Object.hasOwn(given, name);
  if (!present) return new AppError("bad_request", `${name}: required, ${EXPECTED[name] ?? "a valid value"}`);
  return new AppError("bad_request", `${name}: expected ${EXPECTED[name] ?? "a valid value"}`);
}
