// The operator's controls (operatorControls.ts) through mod_invites_manage's budget and update
// commands (XEP-0050, forms of XEP-0004). Prosody's refusals become the service's errors here.
import { AppError } from "../errors.js";
import { executeCommand, type AdhocContext, type HostCommands } from "./adhoc.js";
import { readFormValues, submitForm } from "./dataForm.js";
import { ProsodyBadReplyError, ProsodyRefusedError } from "./errors.js";
import { inviteFrom, MANAGE_NODES, notLoaded } from "./inviteManager.js";
import type { OperatorControls, RegistrationBudget } from "./operatorControls.js";

const one = (values: Map<string, string[]>, name: string): string | undefined => values.get(name)?.[0] || undefined;

function wholeOf(values: Map<string, string[]>, name: string): number | undefined {
  const value = one(values, name);
  const n = Number(value);
  return value !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined;
}

function budgetFrom(values: Map<string, string[]>, host: string): RegistrationBudget {
  const used = wholeOf(values, "used");
  const paused = one(values, "paused");
  if (used === undefined || paused === undefined)
    throw new ProsodyBadReplyError(host, "a budget without used or paused");
  const count = wholeOf(values, "count");
  const windowSeconds = wholeOf(values, "window");
  const resetsAt = wholeOf(values, "resets-at");
  return {
    ...(count && windowSeconds ? { limit: { count, windowSeconds } } : {}),
    paused: paused === "true" || paused === "1",
    used,
    ...(count && resetsAt !== undefined ? { resetsAt } : {}),
  };
}

/** The module's refusals of what the caller asked; the rest stay Prosody's. */
function controlError(err: unknown, host: string): unknown {
  if (!(err instanceof ProsodyRefusedError)) return err;
  const text = err.text || err.condition;
  if (err.condition === "bad-request") return new AppError("bad_request", text);
  if (err.condition === "item-not-found")
    return new AppError("invite_not_found", `no pending invite with this id on ${host}`);
  return err;
}

export function createOperatorControls(adhoc: AdhocContext, commands: HostCommands): OperatorControls {
  async function run(host: string, node: string, fields?: Record<string, string | undefined>) {
    const nodes = await commands(host);
    if (!nodes.includes(node)) {
      if (!nodes.includes(MANAGE_NODES.createAccount)) throw notLoaded(host);
      throw new AppError(
        "not_implemented",
        `update mod_invites_manage under VirtualHost "${host}": it has no registration budget nor invite updates`,
      );
    }
    try {
      const values = readFormValues(
        await executeCommand(adhoc, host, node, fields ? { form: submitForm(fields) } : {}),
      );
      if (!values) throw new ProsodyBadReplyError(host, "no result form");
      return values;
    } catch (err) {
      throw controlError(err, host);
    }
  }

  return {
    budget: async (host) => budgetFrom(await run(host, MANAGE_NODES.budget), host),

    setBudget: async (host, change, actor) => {
      const limit = change.limit;
      const fields = {
        actor,
        count: limit ? String(limit.count) : undefined,
        window: limit ? String(limit.windowSeconds) : undefined,
        clear: limit === null ? "true" : undefined,
        paused: change.paused === undefined ? undefined : String(change.paused),
      };
      return budgetFrom(await run(host, MANAGE_NODES.budget, fields), host);
    },

    updateInvite: async (host, id, change, actor) => {
      // An empty value removes (the module reads a field sent empty so); an absent one stays.
      const removable = (value: string | number | null | undefined) =>
        value === undefined ? undefined : value === null ? "" : String(value);
      const fields = {
        id,
        actor,
        ttl: change.ttl === undefined ? undefined : String(change.ttl),
        max_uses: removable(change.maxUses),
        note: removable(change.note),
      };
      return inviteFrom(await run(host, MANAGE_NODES.update, fields), host);
    },
  };
}
