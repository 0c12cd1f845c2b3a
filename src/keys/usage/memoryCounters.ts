import type { CountResult, RedemptionBatch, RedemptionTotals, Usage, UsageCounters } from "./counters.js";

/** Counters in this process's memory, for a keyv kept in memory (unit tests, one process). */
export function memoryCounters(enqueue?: (deliveries: RedemptionBatch["deliveries"]) => Promise<void>): UsageCounters {
  const counters = new Map<string, Usage>();
  const cursors = new Map<string, string>();
  const totals = new Map<string, RedemptionTotals>();
  return {
    async reset(id, usage) {
      counters.set(id, { ...usage });
    },
    async adopt(id, usage) {
      if (!counters.has(id)) counters.set(id, { ...usage });
    },
    async add(id, count, at, max): Promise<CountResult> {
      const usage = counters.get(id);
      if (!usage) return "missing";
      if (max !== undefined && usage.invitesIssued + count > max) return "exhausted";
      counters.set(id, { ...usage, invitesIssued: usage.invitesIssued + count, lastUsedAt: at });
      return "counted";
    },
    async release(id) {
      const usage = counters.get(id);
      if (usage && usage.invitesIssued > 0) counters.set(id, { ...usage, invitesIssued: usage.invitesIssued - 1 });
    },
    async read(ids) {
      return new Map(ids.flatMap((id) => (counters.has(id) ? [[id, counters.get(id) as Usage] as const] : [])));
    },
    async remove(id) {
      counters.delete(id);
    },
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
