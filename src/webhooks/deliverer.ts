import type { Logger } from "../log.js";
import { nextDelay } from "../xmpp/backoff.js";
import { send, type SendResult } from "./send.js";
import type { Delivery, Subscription, WebhookStore } from "../store/webhooks.js";

export interface DelivererOptions {
  readonly store: WebhookStore;
  readonly log: Logger;
  /** Counts each attempt's outcome: delivered, failed (will retry), dropped (the window is over). */
  readonly counted: (outcome: "delivered" | "failed" | "dropped") => void;
  readonly timeoutMs: number;
  /** How long a taken delivery stays this instance's; then another instance may send it. */
  readonly leaseMs: number;
  readonly retry: { readonly minMs: number; readonly maxMs: number };
  /** How long after its event a delivery is retried before it is dropped. */
  readonly windowMs: number;
  /** How often the outbox is looked at when nothing wakes the deliverer. */
  readonly pollMs: number;
  /** One warning per failing subscription per this long. */
  readonly warnEveryMs: number;
  /** Deliveries under way at once; each frees its slot as soon as it ends. */
  readonly concurrency: number;
  /**
   * Of one subscription's deliveries, at most this many under way at once: a receiver that never
   * answers holds this many slots, never all of them.
   */
  readonly perSubscription: number;
  readonly send?: (subscription: Subscription, delivery: Delivery, timeoutMs: number) => Promise<SendResult>;
  readonly now?: () => number;
}

export interface Deliverer {
  /** Looks at the outbox now (something was queued). */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * Sends what the outbox holds, at least once: a delivery is taken with a lease, sent, and removed
 * only after a 2xx; a failure puts it back with exponential backoff and jitter, until `windowMs`
 * after its event. An instance that dies mid-delivery leaves it leased; the lease runs out and
 * another instance (or this one, restarted) sends it again, with the same webhook-id.
 *
 * Each delivery runs on its own: when one ends, its slot is claimed again at once, whatever the
 * others are doing. Claims are fair (WebhookStore.claim): no subscription gets more than
 * `perSubscription` under way, and subscriptions take turns, so a receiver that hangs until the
 * timeout, with a day of retries queued, delays no other receiver.
 */
export function startDeliverer(opts: DelivererOptions): Deliverer {
  const now = opts.now ?? Date.now;
  const deliver = opts.send ?? send;
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  const warned = new Map<string, number>();
  // This instance's deliveries under way: all of them, and how many of each subscription.
  const underWay = new Set<Promise<void>>();
  const inFlight = new Map<string, number>();

  async function one(delivery: Delivery, subscriptions: Map<string, Subscription>): Promise<void> {
    const subscription = subscriptions.get(delivery.subscriptionId);
    // Its subscription was deleted after it was taken: nothing to send it to.
    if (!subscription) return opts.store.delivered(delivery, now());
    const result = await deliver(subscription, delivery, opts.timeoutMs);
    const at = now();
    if (result.ok) {
      opts.counted("delivered");
      if (warned.delete(subscription.id)) opts.log.info({ webhook: subscription.id }, "webhook receiver answers again");
      return opts.store.delivered(delivery, at);
    }
    const retryAt = at + nextDelay(delivery.attempts, opts.retry.minMs, opts.retry.maxMs);
    const dropped = retryAt - delivery.createdAt > opts.windowMs;
    opts.counted(dropped ? "dropped" : "failed");
    const last = warned.get(subscription.id);
    if (last === undefined || at - last >= opts.warnEveryMs || dropped) {
      warned.set(subscription.id, at);
      opts.log.warn(
        { webhook: subscription.id, host: subscription.host, error: result.error, attempts: delivery.attempts + 1 },
        dropped ? "webhook delivery dropped: retried for the whole window" : "webhook deliveries failing; retrying",
      );
    }
    return opts.store.failed(delivery, at, result.error, dropped ? null : retryAt);
  }

  function begin(delivery: Delivery, subscriptions: Map<string, Subscription>): void {
    const id = delivery.subscriptionId;
    inFlight.set(id, (inFlight.get(id) ?? 0) + 1);
    const task: Promise<void> = one(delivery, subscriptions)
      .catch((err: unknown) =>
        opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, "cannot update the webhook outbox"),
      )
      .finally(() => {
        underWay.delete(task);
        const left = (inFlight.get(id) ?? 1) - 1;
        if (left > 0) inFlight.set(id, left);
        else inFlight.delete(id);
        // Its slot is free: claim again now rather than at the next poll.
        run();
      });
    underWay.add(task);
  }

  async function pass(): Promise<void> {
    for (;;) {
      const room = opts.concurrency - underWay.size;
      if (room <= 0 || stopped) return;
      const fair = { perSubscription: opts.perSubscription, inFlight: new Map(inFlight) };
      const taken = await opts.store.claim(now(), opts.leaseMs, room, fair);
      if (taken.length === 0) return;
      const subscriptions = new Map((await opts.store.listSubscriptions()).map((s) => [s.id, s]));
      for (const delivery of taken) begin(delivery, subscriptions);
      if (taken.length < room) return;
    }
  }

  function run(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = pass()
      .catch((err: unknown) =>
        opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, "cannot read the webhook outbox"),
      )
      .finally(() => {
        running = undefined;
        if (stopped) return;
        if (again) {
          again = false;
          run();
        } else {
          timer = setTimeout(run, opts.pollMs);
          timer.unref();
        }
      });
  }

  run();
  return {
    wake: run,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await Promise.all(underWay);
    },
  };
}
