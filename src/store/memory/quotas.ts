import type { QuotaState, QuotaStore } from "../../people/types.js";

/**
 * Quotas in this process's memory: unit tests and the contract suite's reference. Each call reads
 * and writes without an await between, so no other call comes in between.
 */
export function memoryQuotas(): QuotaStore {
  /** Subject → use → when it was taken (ms). */
  const uses = new Map<string, Map<string, number>>();
  const inWindow = (subject: string, windowMs: number, now: number): Map<string, number> => {
    const mine = uses.get(subject) ?? new Map<string, number>();
    for (const [use, at] of mine) if (at <= now - windowMs) mine.delete(use);
    return mine;
  };
  const stateOf = (mine: ReadonlyMap<string, number>, limit: number, windowMs: number): QuotaState => {
    if (mine.size === 0) return { limit, used: 0 };
    return { limit, used: mine.size, nextAt: Math.min(...mine.values()) + windowMs };
  };
  return {
    async take(subject, limit, windowMs, now, use) {
      const mine = inWindow(subject, windowMs, now);
      const taken = mine.size < limit;
      if (taken) mine.set(use, now);
      if (mine.size > 0) uses.set(subject, mine);
      else uses.delete(subject);
      return { taken, state: stateOf(mine, limit, windowMs) };
    },
    async release(subject, use) {
      const mine = uses.get(subject);
      mine?.delete(use);
      if (mine?.size === 0) uses.delete(subject);
    },
    async peek(subject, limit, windowMs, now) {
      const mine = new Map([...(uses.get(subject) ?? [])].filter(([, at]) => at > now - windowMs));
      return stateOf(mine, limit, windowMs);
    },
  };
}
