import type { CountResult, Usage, UsageCounters } from "./counters.js";

/** Counters in this process's memory, for a keyv kept in memory (unit tests, one process). */
export function memoryCounters(): UsageCounters {
  const counters = new Map<string, Usage>();
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
      counters.set(id, { invitesIssued: usage.invitesIssued + count, lastUsedAt: at });
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
  };
}
