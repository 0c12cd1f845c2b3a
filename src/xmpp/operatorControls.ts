// What an operator keeps in bounds on a host (issue 30), through mod_invites_manage's commands
// (XEP-0050, forms of XEP-0004): a registration budget and a pause, enforced in Prosody where every
// registration happens (any invite, in-band or on a web page, and open registration), and changes to
// a pending invite that keep its link. The budget lives in Prosody's storage: the service only reads
// and sets it, so that an admin's own client, prosodyctl and every instance see the same.
import type { ManagedInvite } from "./inviteManager.js";

/** At most `count` registrations on the host per `windowSeconds`. */
export interface BudgetLimit {
  readonly count: number;
  readonly windowSeconds: number;
}

/** The host's registration budget and pause, as Prosody enforces them now. */
export interface RegistrationBudget {
  /** None: no budget (registrations bounded only by invites and Prosody's own limits). */
  readonly limit?: BudgetLimit;
  /** While paused, no registration is admitted, whatever the budget. */
  readonly paused: boolean;
  /** Registrations counted in the current window. */
  readonly used: number;
  /** When the current window ends and the count starts again (Unix seconds); absent without a limit. */
  readonly resetsAt?: number;
}

/** What to change; an absent field stays as it is, `limit: null` removes the budget. */
export interface BudgetChange {
  readonly limit?: BudgetLimit | null;
  readonly paused?: boolean;
}

/** A pending invite's upkeep; its token, and so its link, stays. Absent fields stay as they are. */
export interface InviteChange {
  /** New lifetime from now, in seconds, within invites_manage_max_ttl (and the key's --max-ttl). */
  readonly ttl?: number;
  /** A reusable invite's use cap; null removes it. Never below the uses it already has. */
  readonly maxUses?: number | null;
  /** null removes it. */
  readonly note?: string | null;
}

export interface OperatorControls {
  budget(host: string): Promise<RegistrationBudget>;
  /** Sets and answers the budget; the change is a record of the host's feed (events for webhooks). */
  setBudget(host: string, change: BudgetChange, actor: string): Promise<RegistrationBudget>;
  /** Throws `invite_not_found` for an invite the caller may not see or that is no longer pending. */
  updateInvite(host: string, id: string, change: InviteChange, actor: string): Promise<ManagedInvite>;
}
