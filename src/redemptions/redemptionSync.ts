import type { RedemptionLedger } from "../store/usage.js";
import type { Logger } from "../log.js";
import type { InviteManager, RedemptionRecord } from "../xmpp/inviteManager.js";
import { inviterOf, type NotifyInviter } from "./inviterNotice.js";
import { tally } from "./tally.js";
import type { Subscription } from "../store/webhooks.js";

/** Records read per command: one stanza of ~200 small items. */
export const FEED_PAGE = 200;
// A bound on one host's pages per pass, so that a pass always ends; the next pass goes on.
const MAX_PAGES_PER_PASS = 500;
/**
 * The shortest time between two passes a nudge starts: however many nudges arrive, they cost
 * Prosody at most one pass a second; the last one of a burst is never lost (a pass follows it).
 */
export const NUDGE_MIN_GAP_MS = 1_000;

export interface RedemptionSyncOptions {
  readonly manager: Pick<InviteManager, "available" | "redemptions">;
  readonly ledger: Pick<RedemptionLedger, "redemptionCursor" | "applyRedemptions">;
  /** The host's webhook subscriptions: each record becomes a delivery for those that take it. */
  readonly subscriptions?: (host: string) => Promise<readonly Subscription[]>;
  /** Told when a page queued webhook deliveries. */
  readonly queued?: () => void;
  /** The hosts to read: those with keys. */
  readonly hosts: () => Promise<string[]>;
  readonly online: () => boolean;
  readonly intervalMs: number;
  readonly log: Logger;
  /** Told of each pass that starts, and what started it. */
  readonly passed?: (trigger: PassTrigger) => void;
  /**
   * The inviter hears back (issue 29): called for each registration through an invite a person
   * made, by the one instance whose page was applied; not for one whose `notify:JID` is false in
   * `people`. A failure is logged and not tried again.
   */
  readonly notifyInviter?: NotifyInviter;
  /** People's settings (ServiceStore.people): `notify:JID` false turns the inviter's news off. */
  readonly people?: { get(key: string): Promise<unknown> };
}

export type PassTrigger = "interval" | "nudge" | "online";

export interface RedemptionSync {
  /** Reads every host's new records soon: now, or right after the pass under way. */
  poke(): void;
  /**
   * mod_invites_manage says a registration was recorded: a pass, at most one per NUDGE_MIN_GAP_MS,
   * if `from` is the bare domain of a host the service reads (only Prosody's VirtualHost can send
   * from it); anything else costs at most one read of the store's host list per NUDGE_MIN_GAP_MS.
   */
  nudge(from: string): void;
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
  const { manager, ledger, log } = opts;
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  const failing = new Map<string, string>();
  // The hosts the last pass read: a nudge counts only from one of them.
  let known = new Set<string>();
  let lastNudged = 0;
  let nudgeTimer: NodeJS.Timeout | undefined;

  async function syncHost(host: string): Promise<void> {
    for (let page = 0; page < MAX_PAGES_PER_PASS; page += 1) {
      const from = await ledger.redemptionCursor(host);
      // kinds: expiries, pauses and budgets used up too, for the webhooks (an older module ignores it).
      const read = await manager.redemptions(host, { ...(from ? { after: from } : {}), max: FEED_PAGE, kinds: true });
      const { records } = read;
      // The module's `next` lies past the records the service may not see too (an admin's own
      // invites): the cursor moves there, even with no record to count, so none is read twice.
      // An older module gives none: the last record's cursor, as before.
      const to = read.next ?? records.at(-1)?.cursor;
      if (to === undefined || to === from) return;
      const subscriptions = records.length > 0 ? ((await opts.subscriptions?.(host)) ?? []) : [];
      const batch = tally(host, from, records, subscriptions, to);
      // false: another instance counted this page first; read on from where it left the cursor.
      const applied = await ledger.applyRedemptions(batch);
      if (applied && batch.deliveries.length > 0) opts.queued?.();
      if (applied) await tellInviters(host, records);
      if (!(read.more ?? records.length >= FEED_PAGE)) return;
    }
  }

  /** Each person whose invite registered someone in this page hears of it, unless they turned it off. */
  async function tellInviters(host: string, records: readonly RedemptionRecord[]): Promise<void> {
    const notify = opts.notifyInviter;
    if (!notify) return;
    for (const record of records) {
      const inviter = inviterOf(host, record);
      if (!inviter) continue;
      try {
        if ((await opts.people?.get(`notify:${inviter}`)) === false) continue;
        await notify(host, inviter, record.jid);
      } catch (err) {
        log.warn(
          { host, err: err instanceof Error ? err.message : String(err) },
          "cannot tell an inviter of a registration",
        );
      }
    }
  }

  async function runPass(): Promise<void> {
    if (!opts.online()) return;
    const hosts = await opts.hosts();
    known = new Set(hosts);
    for (const host of hosts) {
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

  function pass(trigger: PassTrigger = "online"): Promise<void> {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running.then(() => (running ? running : pass(trigger)));
    }
    opts.passed?.(trigger);
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

  const timer = setInterval(() => void pass("interval"), opts.intervalMs);
  timer.unref();

  // Senders heard since the last nudge check: bounded, since anyone may send a nudge.
  const heard = new Set<string>();
  async function nudged(): Promise<void> {
    nudgeTimer = undefined;
    lastNudged = Date.now();
    const from = [...heard];
    heard.clear();
    // A host that got its first key since the last pass is not known yet: the store says (no Prosody cost).
    if (!from.some((host) => known.has(host))) known = new Set(await opts.hosts());
    if (from.some((host) => known.has(host))) await pass("nudge");
  }

  function nudge(from: string): void {
    if (stopped || !from || from.includes("@") || from.includes("/")) return;
    if (heard.size < 16) heard.add(from);
    if (nudgeTimer) return;
    const wait = Math.max(0, lastNudged + NUDGE_MIN_GAP_MS - Date.now());
    nudgeTimer = setTimeout(() => {
      nudged().catch((err: unknown) =>
        log.warn({ err: err instanceof Error ? err.message : String(err) }, "cannot read the registration records"),
      );
    }, wait);
  }

  return {
    poke: () => void pass(),
    nudge,
    pass: () => pass(),
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(nudgeTimer);
      await running;
    },
  };
}
