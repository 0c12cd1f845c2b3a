import type { OperatorControls, RegistrationBudget } from "../xmpp/operatorControls.js";

export interface HostBudget {
  readonly host: string;
  readonly budget: RegistrationBudget;
}

export interface BudgetReader {
  /** Every served host's budget, each read from Prosody at most once per `ttlMs`. */
  read(): Promise<HostBudget[]>;
  /** A budget the API just read or set: the next scrape shows it without asking Prosody. */
  seen(host: string, budget: RegistrationBudget): void;
}

/**
 * The budgets /metrics shows, read through Prosody's command at scrape time and kept `ttlMs`, so
 * that a scrape every few seconds costs Prosody one command per host per `ttlMs`. A host whose
 * read fails (no module, an older one, Prosody away) is left out of that scrape.
 */
export function cachedBudgets(opts: {
  readonly hosts: () => Promise<readonly string[]>;
  readonly controls: Pick<OperatorControls, "budget">;
  readonly available: (host: string) => Promise<boolean>;
  readonly ttlMs: number;
  readonly now?: () => number;
}): BudgetReader {
  const now = opts.now ?? Date.now;
  const kept = new Map<string, { at: number; budget?: RegistrationBudget }>();
  async function one(host: string): Promise<HostBudget | undefined> {
    const found = kept.get(host);
    if (found && now() - found.at < opts.ttlMs) return found.budget && { host, budget: found.budget };
    try {
      const budget = (await opts.available(host)) ? await opts.controls.budget(host) : undefined;
      kept.set(host, { at: now(), ...(budget ? { budget } : {}) });
      return budget && { host, budget };
    } catch {
      kept.set(host, { at: now() });
      return undefined;
    }
  }
  return {
    async read() {
      const hosts = await opts.hosts().catch(() => []);
      const found = await Promise.all(hosts.map(one));
      return found.filter((entry): entry is HostBudget => entry !== undefined);
    },
    seen(host, budget) {
      kept.set(host, { at: now(), budget });
    },
  };
}
