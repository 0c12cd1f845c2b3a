import type { RedemptionBatch } from "../store/usage.js";
import type { WebhookEvent } from "../store/webhooks.js";
import { deliveriesFor, type WebhookBody } from "../webhooks/events.js";
import type { Delivery, Subscription } from "../store/webhooks.js";
import { keyOfSource, type FeedKind, type RedemptionRecord } from "../xmpp/inviteManager.js";
import { inviteAuthor } from "../people/authors.js";
import { isPerson } from "../people/caller.js";

/** The webhook each kind of record is, with its `data` besides the host. */
function eventOf(host: string, record: RedemptionRecord): WebhookBody {
  const timestamp = new Date(record.at * 1_000).toISOString();
  const actor = record.actor ?? null;
  const keyId = keyOfSource(record.source);
  const invite = {
    host,
    invite: record.id,
    key: keyId !== null && isPerson({ id: keyId }) ? null : keyId,
    created_by: inviteAuthor(record, host),
    groups: [...(record.groups ?? [])],
    ref: record.ref ?? null,
  };
  const events: Record<FeedKind, () => { type: WebhookEvent; data: WebhookBody["data"] }> = {
    registered: () => ({ type: "invite.redeemed", data: { ...invite, jid: record.jid, at: record.at, actor } }),
    reset: () => ({ type: "reset.redeemed", data: { ...invite, jid: record.jid, at: record.at, actor } }),
    expired: () => ({ type: "invite.expired", data: { ...invite, at: record.at, actor } }),
    budget_exhausted: () => {
      const { budget } = record;
      const limit = budget ? { count: budget.count, window_seconds: budget.windowSeconds } : null;
      return {
        type: "registration.budget_exhausted",
        data: { host, at: record.at, limit, resets_at: budget?.resetsAt ?? null, actor },
      };
    },
    paused: () => ({ type: "registration.paused", data: { host, at: record.at, actor } }),
    resumed: () => ({ type: "registration.resumed", data: { host, at: record.at, actor } }),
  };
  return { ...events[record.kind](), timestamp };
}

/**
 * One page of a host's records as a batch to count: accounts per key, registrations, resets (only
 * registrations count accounts), and a webhook delivery per record for each subscription that
 * takes its event: invite.redeemed, reset.redeemed, invite.expired, registration.budget_exhausted,
 * registration.paused, registration.resumed. The record's cursor is the event's id, so each record
 * is one delivery per subscription however often it is read. `to` is where the cursor moves: the
 * last record's, unless the module examined records past it that the service may not see (then
 * the batch may hold no record at all).
 */
export function tally(
  host: string,
  from: string | null,
  records: readonly RedemptionRecord[],
  subscriptions: readonly Subscription[] = [],
  to: string | undefined = records.at(-1)?.cursor,
): RedemptionBatch {
  if (to === undefined) throw new Error("tally needs a record or a cursor to move to");
  const accounts = new Map<string, { count: number; lastAt: string }>();
  let registrations = 0;
  let resets = 0;
  const deliveries: Delivery[] = [];
  for (const record of records) {
    deliveries.push(
      ...deliveriesFor(subscriptions, `${host}\n${record.cursor}`, eventOf(host, record), record.at * 1_000),
    );
    if (record.kind === "reset") resets += 1;
    if (record.kind !== "registered") continue;
    registrations += 1;
    const key = keyOfSource(record.source);
    if (!key) continue;
    const at = new Date(record.at * 1_000).toISOString();
    const seen = accounts.get(key);
    accounts.set(key, { count: (seen?.count ?? 0) + 1, lastAt: seen && seen.lastAt > at ? seen.lastAt : at });
  }
  return { host, from, to, accounts, registrations, resets, deliveries };
}
