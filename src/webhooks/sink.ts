import type { Logger } from "../log.js";
import { deliveriesFor, type WebhookBody } from "./events.js";
import type { WebhookEvent, WebhookStore } from "../store/webhooks.js";

type InviteEventData = WebhookBody["data"] & { readonly invite: string };

/** Where the service's own events (invites it made, invites it revoked) go. */
export interface EventSink {
  emit(type: WebhookEvent, data: InviteEventData): Promise<void>;
  /** Events of one type on one host (a batch): the subscriptions read once, the deliveries queued in one write. */
  emitMany(type: WebhookEvent, data: readonly InviteEventData[]): Promise<void>;
}

/**
 * Queues an event for every subscription of its host that takes it, before the request that caused
 * it is answered; then wakes the deliverer. A store that fails is logged (the invite exists all the
 * same: the client gets it), never thrown at the client.
 */
export function createEventSink(opts: { store: WebhookStore; log: Logger; queued: () => void }): EventSink {
  async function emitMany(type: WebhookEvent, data: readonly InviteEventData[]): Promise<void> {
    const host = data[0]?.host;
    if (host === undefined) return;
    try {
      const subscriptions = await opts.store.listSubscriptions(host);
      if (subscriptions.length === 0) return;
      const now = Date.now();
      const deliveries = data.flatMap((one) => {
        const body: WebhookBody = { type, timestamp: new Date(now).toISOString(), data: one };
        return deliveriesFor(subscriptions, `${type}\n${one.invite}`, body, now);
      });
      if (deliveries.length === 0) return;
      await opts.store.enqueue(deliveries);
      opts.queued();
    } catch (err) {
      opts.log.error(
        { host, event: type, count: data.length, err: err instanceof Error ? err.message : String(err) },
        "could not queue a webhook event",
      );
    }
  }
  return { emit: (type, data) => emitMany(type, [data]), emitMany };
}
