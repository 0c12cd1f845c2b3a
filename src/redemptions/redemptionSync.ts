import type { UsageCounters } from "../keys/usage/counters.js";
import type { Logger } from "../log.js";
import type { InviteManager } from "../xmpp/inviteManager.js";
import { tally } from "./tally.js";
import type { Subscription } from "../webhooks/webhookStore.js";

/** Records read per command: one stanza of ~200 small items. */
export const FEED_PAGE = 200;
// A bound on one host's pages per pass, so that a pass always ends; the next pass goes on.
const MAX_PAGES_PER_PASS = 500;

export interface RedemptionSyncOptions {
  readonly manager: Pick<InviteManager, "available" | "redemptions">;
  readonly usage: Pick<UsageCounters, "redemptionCursor" | "applyRedemptions">;
  /** The host's webhook subscriptions: each record becomes a delivery for those that take it. */
  readonly subscriptions?: (host: string) => Promise<readonly Subscription[]>;
  /** Told when a page queued webhook deliveries. */
  readonly queued?: () => void;
  /** The hosts to read: those with keys. */
  readonly hosts: () => Promise<string[]>;
  readonly online: () => boolean;
  readonly intervalMs: number;
  readonly log: Logger;
}

export interface RedemptionSync {
  /** Reads every host's new records soon: now, or right after the pass under way. */
  poke(): void;
  /** A pass that starts after this call, and its end. */
  pass(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Counts the registrations mod_invites_manage records (accounts per key, totals per host) into the
 * key store, from a cursor kept there per host: each page and the cursor move together, only if no
 * other instance (or an earlier pass) moved the cursor first, so every record counts once however
 * many instances share the store. The records are Prosody's: registrations made while the service
 * was down or disconnected are counted when it is back.
 */
export function startRedemptionSync(opts: RedemptionSyncOptions): RedemptionSync {
  const { manager, usage, log } = opts;
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  const failing = new Map<string, string>();

  async function syncHost(host: string): Promise<void> {
    for (let page = 0; page < MAX_PAGES_PER_PASS; page += 1) {
      const from = await usage.redemptionCursor(host);
      const records = await manager.redemptions(host, { ...(from ? { after: from } : {}), max: FEED_PAGE });
      if (records.length === 0) return;
      const batch = tally(host, from, records, (await opts.subscriptions?.(host)) ?? []);
      // false: another instance counted this page first; read on from where it left the cursor.
      if ((await usage.applyRedemptions(batch)) && batch.deliveries.length > 0) opts.queued?.();
      if (records.length < FEED_PAGE) return;
    }
  }

  async function runPass(): Promise<void> {
    if (!opts.online()) return;
    for (const host of await opts.hosts()) {
      if (stopped || !opts.online()) return;
      try {
        if (!(await manager.available(host))) continue;
        await syncHost(host);
        if (failing.delete(host)) log.info({ host }, "reading the registration records again");
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        // Once per change of reason, not once per pass.
        if (failing.get(host) !== reason) log.warn({ host, err: reason }, "cannot read the registration records");
        failing.set(host, reason);
      }
    }
  }

  function pass(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running.then(() => (running ? running : pass()));
    }
    running = runPass()
      .catch((err: unknown) =>
        log.warn({ err: err instanceof Error ? err.message : String(err) }, "cannot read the registration records"),
      )
      .finally(() => {
        running = undefined;
        if (again && !stopped) {
          again = false;
          void pass();
        }
      });
    return running;
  }

  const timer = setInterval(() => void pass(), opts.intervalMs);
  timer.unref();

  return {
    poke: () => void pass(),
    pass,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
