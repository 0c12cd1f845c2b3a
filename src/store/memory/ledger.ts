import type { RedemptionBatch, RedemptionLedger, RedemptionTotals, Usage } from "../usage.js";

/** The ledger in this process's memory, counting into `counters` (memoryUsage's) and queueing with `enqueue`. */
export function memoryLedger(
  counters: Map<string, Usage>,
  enqueue?: (deliveries: RedemptionBatch["deliveries"]) => Promise<void>,
): RedemptionLedger {
  const cursors = new Map<string, string>();
  const totals = new Map<string, RedemptionTotals>();
  return {
    async redemptionCursor(host) {
      return cursors.get(host) ?? null;
    },
    async applyRedemptions(batch) {
      if ((cursors.get(batch.host) ?? null) !== batch.from) return false;
      cursors.set(batch.host, batch.to);
      await enqueue?.(batch.deliveries);
      const total = totals.get(batch.host) ?? { host: batch.host, registrations: 0, resets: 0 };
      totals.set(batch.host, {
        host: batch.host,
        registrations: total.registrations + batch.registrations,
        resets: total.resets + batch.resets,
      });
      for (const [id, { count, lastAt }] of batch.accounts) {
        const usage = counters.get(id);
        if (!usage) continue;
        const last = usage.lastRegistrationAt && usage.lastRegistrationAt > lastAt ? usage.lastRegistrationAt : lastAt;
        counters.set(id, {
          ...usage,
          accountsRegistered: (usage.accountsRegistered ?? 0) + count,
          lastRegistrationAt: last,
        });
      }
      return true;
    },
    async redemptionTotals() {
      return [...totals.values()];
    },
  };
}
