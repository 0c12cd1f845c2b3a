import type { Context } from "koa";
import { AppError } from "../errors.js";
import { assertPower } from "../keys/powers.js";
import type { RateLimits } from "../limits/rateLimits.js";
import type { ManagedInvite } from "../xmpp/inviteManager.js";
import type { BatchJson } from "./apiTypes.js";
import { answerFor } from "./errors.js";
import { checkedRequest, inviteJson, inviteMade, jsonBody, makeInvite, type ResourceDeps } from "./invitesResource.js";
import { auditActor } from "../people/authors.js";
import { callerOf } from "../people/confinement.js";
import { batchBody } from "./wire/requests.js";

/**
 * Invites of one batch asked of Prosody at once: enough to hide each round trip (Prosody runs one
 * command at a time on the component's stream anyway), few enough that an invite asked for beside
 * a batch waits behind at most this many.
 */
export const BATCH_CONCURRENCY = 8;

type Outcome = { invite: ManagedInvite } | { error: unknown };

/** Runs `work` on each item, at most `limit` at a time, each outcome in the items' order. */
async function eachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<ManagedInvite>) {
  const outcomes: Outcome[] = new Array<Outcome>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        outcomes[i] = { invite: await work(items[i] as T) };
      } catch (error) {
        outcomes[i] = { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return outcomes;
}

/**
 * POST /invites/batch: up to 1,000 invites of any kinds in one call, each as its kind's own route
 * takes it (with an optional `ref`). The whole body is checked first (fields, the caller's powers,
 * circles and --max-ttl, its rate, one point per invite): any fault there is one 400/403/429 and nothing is
 * made. Then each invite is asked for on its own: 201 when all were made; 207 item by item when
 * some were not (each with the status and error code its own route would have answered), unless
 * none was and all failed alike on the server's side (Prosody away: that one 5xx, to retry whole).
 */
export function createBatch(deps: ResourceDeps & { limits: RateLimits }) {
  return async function createBatch(ctx: Context): Promise<void> {
    const caller = callerOf(ctx);
    const { apiKey } = caller;
    const { invites } = jsonBody(ctx, batchBody);
    for (const kind of new Set(invites.map((item) => item.kind))) assertPower(apiKey, kind);
    invites.forEach(({ kind, ...request }, i) => {
      try {
        checkedRequest(kind, request, caller);
      } catch (err) {
        throw err instanceof AppError ? new AppError(err.code, `invites[${i}].${err.message}`) : err;
      }
    });
    await deps.limits.consumeKey(apiKey.id, apiKey.rate, invites.length);
    const outcomes = await eachBounded(invites, BATCH_CONCURRENCY, ({ kind, ...request }) =>
      makeInvite(kind, request, deps, caller),
    );
    const made = outcomes.flatMap((outcome, i) =>
      "invite" in outcome ? [inviteMade(invites[i]?.kind ?? "account", outcome.invite, deps, apiKey)] : [],
    );
    await deps.events?.emitMany("invite.created", made);
    const answers = outcomes.map((outcome, i): BatchJson["invites"][number] => {
      const ref = invites[i]?.ref ?? null;
      if ("invite" in outcome) return { status: 201, ref, invite: inviteJson(outcome.invite, apiKey.host) };
      const answer = answerFor(outcome.error);
      if (answer.code === "internal") {
        deps.log.error({ err: String(outcome.error), ...auditActor(apiKey) }, "batch: an invite failed");
      }
      return { status: answer.status, ref, error: answer.code, message: answer.message };
    });
    const failed = answers.filter((answer) => answer.status !== 201);
    deps.log.info(
      { audit: "batch", ...auditActor(apiKey), host: apiKey.host, created: made.length, failed: failed.length },
      "invite batch",
    );
    const first = outcomes[0];
    if (made.length === 0 && first && "error" in first) {
      const codes = failed.map((f) => ("error" in f ? f.error : undefined));
      const alike = failed.every((f) => f.status >= 500) && new Set(codes).size === 1;
      if (alike) throw first.error;
    }
    ctx.status = failed.length === 0 ? 201 : 207;
    ctx.body = { created: made.length, failed: failed.length, invites: answers } satisfies BatchJson;
  };
}
