import { loadServiceUrl } from "../config.js";
import type { BudgetJson, ErrorJson } from "../http/apiTypes.js";
import { withKeyStore, type Output } from "./keyCommands.js";

type Env = Record<string, string | undefined>;

export interface BudgetChangeOptions {
  /** "N/PERIOD", or null to remove the budget. */
  readonly limit?: string | null;
  readonly paused?: boolean;
}

// The temporary key's life: it is deleted as soon as the call ends, and expires by itself should that fail.
const TEMPORARY_KEY_MS = 120_000;
const CALL_TIMEOUT_MS = 8_000;

/** Thrown when the service cannot be reached or refuses: the message says what to do. */
export class ServiceCallError extends Error {
  override readonly name = "ServiceCallError";
}

function describe(budget: BudgetJson): string {
  const limit = budget.limit
    ? `${budget.limit.count} registrations per ${budget.limit.window_seconds} s, ${budget.used} used` +
      (budget.resets_at ? `, the window ends ${new Date(budget.resets_at * 1_000).toISOString()}` : "")
    : `no budget (${budget.used} registrations counted)`;
  return `${budget.host}: ${limit}; registrations ${budget.paused ? "PAUSED" : "open"}`;
}

/**
 * `invites-api budget HOST`: reads (or changes) the host's registration budget through the running
 * service, since Prosody admits one connection per component and the service holds it. The CLI
 * makes a manage key of the host in the store, good for two minutes, calls GET or PATCH /budget at
 * the service's HTTP_HOST:HTTP_PORT (or --url) with it, and deletes it.
 */
export async function budgetCommand(
  env: Env,
  io: Output,
  host: string,
  change: BudgetChangeOptions,
  opts: { json: boolean; url?: string },
): Promise<void> {
  const base = (opts.url ?? loadServiceUrl(env)).replace(/\/+$/, "");
  const changing = change.limit !== undefined || change.paused !== undefined;
  // No "key store:" note: the key is the command's own, gone when it ends.
  const answer = await withKeyStore(env, { ...io, note: () => {} }, { writes: true }, async (keys) => {
    const expiresAt = new Date(Date.now() + TEMPORARY_KEY_MS).toISOString();
    const { info, key } = await keys.create(host, {
      name: "invites-api budget (temporary)",
      scopes: ["manage"],
      expiresAt,
    });
    try {
      const res = await fetch(`${base}/budget`, {
        method: changing ? "PATCH" : "GET",
        headers: {
          Authorization: `Bearer ${key}`,
          Accept: "application/json",
          ...(changing ? { "Content-Type": "application/json" } : {}),
        },
        ...(changing ? { body: JSON.stringify(change) } : {}),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      }).catch((err: unknown) => {
        const why = err instanceof Error && err.name === "TimeoutError" ? "did not answer in time" : "does not answer";
        throw new ServiceCallError(
          `the service at ${base} ${why}: budget goes through the running service (is it started? HTTP_HOST, HTTP_PORT or --url)`,
        );
      });
      const body = (await res.json().catch(() => undefined)) as BudgetJson | ErrorJson | undefined;
      if (!res.ok || !body || !("paused" in body)) {
        const why = body && "message" in body ? `${body.error}: ${body.message}` : `HTTP ${res.status}`;
        throw new ServiceCallError(`the service at ${base} refused: ${why}`);
      }
      return body;
    } finally {
      await keys.delete(host, info.id).catch(() => undefined);
    }
  });
  io.out(opts.json ? JSON.stringify(answer, null, 2) : describe(answer));
}
