import type { Delivery, Subscription, SubscriptionStatus, WebhookStore } from "../webhookStore.js";

interface Queued {
  delivery: Delivery;
  dueAt: number;
}

/** Subscriptions and outbox in this process's memory: unit tests and an in-memory keyv. */
export function memoryWebhooks(): WebhookStore {
  const subscriptions = new Map<string, Subscription>();
  const outbox = new Map<string, Queued>();
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
      for (const [key, queued] of outbox) if (queued.delivery.subscriptionId === id) outbox.delete(key);
      statuses.delete(id);
      return subscriptions.delete(id);
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
        }
      }
    },
    async claim(now, leaseMs, max) {
      const due = [...outbox.values()].filter((q) => q.dueAt <= now).slice(0, max);
      for (const queued of due) queued.dueAt = now + leaseMs;
      return due.map((q) => q.delivery);
    },
    async delivered(delivery, at) {
      outbox.delete(delivery.id);
      note(delivery.subscriptionId, { lastSuccessAt: new Date(at).toISOString() });
    },
    async failed(delivery, at, error, retryAt) {
      const queued = outbox.get(delivery.id);
      if (queued) {
        if (retryAt === null) outbox.delete(delivery.id);
        else outbox.set(delivery.id, { delivery: { ...delivery, attempts: delivery.attempts + 1 }, dueAt: retryAt });
      }
      note(delivery.subscriptionId, { lastFailureAt: new Date(at).toISOString(), lastError: error });
    },
    async backlog() {
      const all = [...outbox.values()];
      return all.length
        ? { count: all.length, oldestAt: Math.min(...all.map((q) => q.delivery.createdAt)) }
        : { count: 0 };
    },
  };
}
