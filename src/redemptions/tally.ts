import type { RedemptionBatch } from "../keys/usage/counters.js";
import { keyOfSource, type RedemptionRecord } from "../xmpp/inviteManager.js";

/** One page of a host's records as a batch to count: accounts per key, registrations, resets. */
export function tally(host: string, from: string | null, records: readonly RedemptionRecord[]): RedemptionBatch {
  const last = records.at(-1);
  if (!last) throw new Error("tally needs at least one record");
  const accounts = new Map<string, { count: number; lastAt: string }>();
  let registrations = 0;
  let resets = 0;
  for (const record of records) {
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
  return { host, from, to: last.cursor, accounts, registrations, resets };
}
