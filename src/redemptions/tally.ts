import type { RedemptionBatch } from "../store/usage.js";
import { deliveriesFor } from "../webhooks/events.js";
import type { Delivery, Subscription } from "../store/webhooks.js";
import { keyOfSource, type RedemptionRecord } from "../xmpp/inviteManager.js";

/**
 * One page of a host's records as a batch to count: accounts per key, registrations, resets, and
 * an invite.redeemed (or reset.redeemed) delivery per record for each subscription that takes it.
 * `to` is where the cursor moves: the last record's, unless the module examined records past it
 * that the service may not see (then the batch may hold no record at all).
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
    const data = { host, invite: record.id, key: keyOfSource(record.source), jid: record.jid, at: record.at };
    const body = {
      type: record.reset ? "reset.redeemed" : "invite.redeemed",
      timestamp: new Date(record.at * 1_000).toISOString(),
      data,
    } as const;
    deliveries.push(...deliveriesFor(subscriptions, `${host}\n${record.cursor}`, body, record.at * 1_000));
    if (record.reset) {
      resets += 1;
      continue;
    }
    registrations += 1;
    const key = keyOfSource(record.source);
    if (!key) continue;
    const at = new Date(record.at * 1_000).toISOString();
    const seen = accounts.get(key);
    accounts.set(key, { count: (seen?.count ?? 0) + 1, lastAt: seen && seen.lastAt > at ? seen.lastAt : at });
  }
  return { host, from, to, accounts, registrations, resets, deliveries };
}
