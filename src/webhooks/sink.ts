import type { Logger } from "../log.js";
import { deliveriesFor, type WebhookBody } from "./events.js";
import type { WebhookEvent, WebhookStore } from "../store/webhooks.js";

/** Where the service's own events (invites it made, invites it revoked) go. */
export interface EventSink {
  emit(type: WebhookEvent, data: WebhookBody["data"] & Record<string, unknown>): Promise<void>;
}

/**
 * Queues an event for every subscription of its host that takes it, before the request that caused
 * it is answered; then wakes the deliverer. A store that fails is logged (the invite exists all the
 * same: the client gets it), never thrown at the client.
 */
export function createEventSink(opts: { store: WebhookStore; log: Logger; queued: () => void }): EventSink {
  return {
    async emit(type, data) {
      try {
        const subscriptions = await opts.store.listSubscriptions(data.host);
        if (subscriptions.length === 0) return;
        const now = Date.now();
        const body: WebhookBody = { type, timestamp: new Date(now).toISOString(), data };
        const deliveries = deliveriesFor(subscriptions, `${type}\n${data.invite}`, body, now);
        if (deliveries.length === 0) return;
        await opts.store.enqueue(deliveries);
        opts.queued();
      } catch (err) {
        opts.log.error(
          { host: data.host, event: type, err: err instanceof Error ? err.message : String(err) },
          "could not queue a webhook event",
        );
      }
    },
  };
}
