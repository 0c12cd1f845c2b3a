import type { Context } from "koa";
import { AppError } from "../errors.js";
import { parseRate } from "../keys/durations.js";
import { assertPower } from "../keys/powers.js";
import type { Logger } from "../log.js";
import { sourceOfKey } from "../xmpp/inviteManager.js";
import type { BudgetChange, BudgetLimit, OperatorControls, RegistrationBudget } from "../xmpp/operatorControls.js";
import type { BudgetJson } from "./apiTypes.js";
import { BUDGET_EXPECTED } from "./fieldErrors.js";
import { controlsOf } from "./inviteUpdate.js";
import { jsonBody } from "./invitesResource.js";
import { auditActor } from "../people/authors.js";
import { assertWholeHost, callerOf } from "../people/confinement.js";
import { budgetBody } from "./wire/requests.js";

/** The shortest budget window: anything shorter is a rate, which Prosody's own limits are for. */
export const MIN_WINDOW_SECONDS = 60;

export const budgetJson = (host: string, budget: RegistrationBudget): BudgetJson => ({
  host,
  limit: budget.limit ? { count: budget.limit.count, window_seconds: budget.limit.windowSeconds } : null,
  paused: budget.paused,
  used: budget.used,
  resets_at: budget.limit ? (budget.resetsAt ?? null) : null,
});

function limitOf(given: string | { count: number; window_seconds: number } | null): BudgetLimit | null {
  if (given === null) return null;
  const limit =
    typeof given === "string"
      ? (() => {
          const rate = parseRate(given);
          return rate && { count: rate.points, windowSeconds: rate.durationSeconds };
        })()
      : { count: given.count, windowSeconds: given.window_seconds };
  if (!limit || limit.windowSeconds < MIN_WINDOW_SECONDS) {
    throw new AppError("bad_request", `limit: expected ${BUDGET_EXPECTED.limit}`);
  }
  return limit;
}

export interface BudgetDeps {
  readonly controls?: OperatorControls;
  readonly log: Logger;
  /** Told of every budget read or set: /metrics shows the latest. */
  readonly seen?: (host: string, budget: RegistrationBudget) => void;
}

/** GET /budget: the key's host's registration budget and pause, as Prosody enforces them now. */
export function readBudget(deps: BudgetDeps) {
  return async function readBudget(ctx: Context): Promise<void> {
    const caller = callerOf(ctx);
    const { apiKey } = caller;
    assertPower(apiKey, "budget");
    assertWholeHost(caller);
    const budget = await controlsOf(deps.controls).budget(apiKey.host);
    deps.seen?.(apiKey.host, budget);
    ctx.body = budgetJson(apiKey.host, budget);
  };
}

/**
 * PATCH /budget: `{"limit": "50/1d" | {"count": 50, "window_seconds": 86400} | null, "paused": bool}`,
 * each optional; 200 with the budget as it is now. Prosody records the change in the host's feed
 * (registration.paused and registration.resumed webhooks come from there).
 */
export function changeBudget(deps: BudgetDeps) {
  return async function changeBudget(ctx: Context): Promise<void> {
    const caller = callerOf(ctx);
    const { apiKey } = caller;
    assertPower(apiKey, "budget");
    assertWholeHost(caller);
    const request = jsonBody(ctx, budgetBody, BUDGET_EXPECTED);
    if (request.limit === undefined && request.paused === undefined) {
      throw new AppError("bad_request", "give limit or paused to change");
    }
    const change: BudgetChange = {
      ...(request.limit === undefined ? {} : { limit: limitOf(request.limit) }),
      ...(request.paused === undefined ? {} : { paused: request.paused }),
    };
    const budget = await controlsOf(deps.controls).setBudget(apiKey.host, change, sourceOfKey(apiKey.id));
    deps.seen?.(apiKey.host, budget);
    deps.log.info(
      { audit: "budget", ...auditActor(apiKey), host: apiKey.host, limit: budget.limit ?? null, paused: budget.paused },
      "registration budget changed",
    );
    ctx.body = budgetJson(apiKey.host, budget);
  };
}
