import type { Logger } from "../log.js";
import { nextDelay } from "../xmpp/backoff.js";
import { send, type SendResult } from "./send.js";
import type { Delivery, Subscription, WebhookStore } from "./webhookStore.js";

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
  readonly concurrency: number;
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
 */
export function startDeliverer(opts: DelivererOptions): Deliverer {
  const now = opts.now ?? Date.now;
  const deliver = opts.send ?? send;
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  const warned = new Map<string, number>();

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

  async function pass(): Promise<void> {
    for (;;) {
      const taken = await opts.store.claim(now(), opts.leaseMs, opts.concurrency);
      if (taken.length === 0 || stopped) return;
      const subscriptions = new Map((await opts.store.listSubscriptions()).map((s) => [s.id, s]));
      await Promise.all(taken.map((delivery) => one(delivery, subscriptions)));
      if (taken.length < opts.concurrency) return;
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
    },
  };
}
