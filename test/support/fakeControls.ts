import { AppError } from "../../src/errors.js";
import type { ManagedInvite } from "../../src/xmpp/inviteManager.js";
import type {
  BudgetChange,
  InviteChange,
  OperatorControls,
  RegistrationBudget,
} from "../../src/xmpp/operatorControls.js";

/**
 * An in-memory stand-in for mod_invites_manage's budget and update commands, for unit tests of the
 * HTTP layer: a budget per host, and the invites of a fakeManager (`find`) to update. Records each call.
 */
export function fakeControls(find: (host: string, id: string) => Promise<ManagedInvite>) {
  const budgets = new Map<string, RegistrationBudget>();
  const calls: Array<{ op: string; host: string; args?: unknown; actor?: string }> = [];
  const controls: OperatorControls = {
    async budget(host) {
      calls.push({ op: "budget", host });
      return budgets.get(host) ?? { paused: false, used: 0 };
    },
    async setBudget(host, change: BudgetChange, actor) {
      calls.push({ op: "setBudget", host, args: change, actor });
      const was = budgets.get(host) ?? { paused: false, used: 0 };
      const limit = change.limit === undefined ? was.limit : (change.limit ?? undefined);
      const now: RegistrationBudget = {
        paused: change.paused ?? was.paused,
        used: was.used,
        ...(limit ? { limit, resetsAt: 1_800_000_000 } : {}),
      };
      budgets.set(host, now);
      return now;
    },
    async updateInvite(host, id, change: InviteChange, actor) {
      calls.push({ op: "updateInvite", host, args: change, actor });
      const invite = await find(host, id);
      if (invite.state !== "pending") throw new AppError("invite_not_found", "not pending");
      const { maxUses: _m, note: _n, ...rest } = invite;
      const maxUses = change.maxUses === undefined ? invite.maxUses : (change.maxUses ?? undefined);
      const note = change.note === undefined ? invite.note : (change.note ?? undefined);
      return {
        ...rest,
        ...(change.ttl === undefined ? {} : { expires: 1_700_000_000 + change.ttl }),
        ...(maxUses === undefined ? {} : { maxUses }),
        ...(note === undefined ? {} : { note }),
      };
    },
  };
  return { controls, calls, budgets };
}
