import {
  fairOrder,
  roomOf,
  type Delivery,
  type Subscription,
  type SubscriptionStatus,
  type WebhookStore,
} from "../webhooks.js";

interface Queued {
  delivery: Delivery;
  dueAt: number;
}

/** Subscriptions and outbox in this process's memory: unit tests and the memory store. */
export function memoryWebhooks(): WebhookStore {
  const subscriptions = new Map<string, Subscription>();
  const outbox = new Map<string, Queued>();
  // Every queued delivery's createdAt, kept sorted, so that backlog() reads the oldest in O(1).
  const created: number[] = [];
  const place = (at: number) => {
    let low = 0;
    let high = created.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((created[mid] as number) < at) low = mid + 1;
      else high = mid;
    }
    return low;
  };
  const forget = (id: string) => {
    const queued = outbox.get(id);
    if (!queued) return;
    outbox.delete(id);
    created.splice(place(queued.delivery.createdAt), 1);
  };
  const statuses = new Map<string, { lastSuccessAt?: string; lastFailureAt?: string; lastError?: string }>();
  // As in the other stores, a deleted subscription gets no status back from a late report.
  const note = (id: string, status: { lastSuccessAt?: string; lastFailureAt?: string; lastError?: string }) => {
    if (subscriptions.has(id)) statuses.set(id, { ...statuses.get(id), ...status });
  };
  return {
    async addSubscription(subscription) {
      subscriptions.set(subscription.id, subscription);
    },
    async listSubscriptions(host) {
      return [...subscriptions.values()].filter((s) => host === undefined || s.host === host);
    },
    async deleteSubscription(id) {
      for (const [key, queued] of outbox) if (queued.delivery.subscriptionId === id) forget(key);
      statuses.delete(id);
      return subscriptions.delete(id);
    },
    // Records as the other stores keep them, JSON: compared as such.
    async subscriptionRecord(id) {
      const subscription = subscriptions.get(id);
      return subscription && JSON.stringify(subscription);
    },
    async replaceSubscription(id, expected, next) {
      const subscription = subscriptions.get(id);
      if (!subscription || JSON.stringify(subscription) !== expected) return false;
      subscriptions.set(id, JSON.parse(next) as Subscription);
      return true;
    },
    async status(ids) {
      const found = new Map<string, SubscriptionStatus>();
      for (const id of ids) {
        const waiting = [...outbox.values()].filter((q) => q.delivery.subscriptionId === id);
        const oldest = Math.min(...waiting.map((q) => q.delivery.createdAt));
        found.set(id, {
          ...statuses.get(id),
          backlog: waiting.length,
          ...(waiting.length ? { oldestAt: oldest } : {}),
        });
      }
      return found;
    },
    async enqueue(deliveries) {
      for (const delivery of deliveries) {
        if (!outbox.has(delivery.id) && subscriptions.has(delivery.subscriptionId)) {
          outbox.set(delivery.id, { delivery, dueAt: 0 });
          created.splice(place(delivery.createdAt), 0, delivery.createdAt);
        }
      }
    },
    async claim(now, leaseMs, max, fair) {
      const due = [...outbox.values()].filter((q) => q.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt);
      const ranks = new Map<string, number>();
      const candidates = [];
      for (const queued of due) {
        const subscriptionId = queued.delivery.subscriptionId;
        const rank = ranks.get(subscriptionId) ?? 0;
        if (rank >= roomOf(fair, subscriptionId)) continue;
        ranks.set(subscriptionId, rank + 1);
        candidates.push({ rank, dueAt: queued.dueAt, id: queued.delivery.id, queued });
      }
      const taken = candidates.sort(fairOrder).slice(0, max);
      for (const { queued } of taken) queued.dueAt = now + leaseMs;
      return taken.map(({ queued }) => queued.delivery);
    },
    async delivered(delivery, at) {
      forget(delivery.id);
      note(delivery.subscriptionId, { lastSuccessAt: new Date(at).toISOString() });
    },
    async failed(delivery, at, error, retryAt) {
      const queued = outbox.get(delivery.id);
      if (queued) {
        if (retryAt === null) forget(delivery.id);
        else outbox.set(delivery.id, { delivery: { ...delivery, attempts: delivery.attempts + 1 }, dueAt: retryAt });
      }
      note(delivery.subscriptionId, { lastFailureAt: new Date(at).toISOString(), lastError: error });
    },
    async backlog() {
      return created.length ? { count: created.length, oldestAt: created[0] as number } : { count: 0 };
    },
  };
}
