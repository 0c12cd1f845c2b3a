import { createHash } from "node:crypto";
import type { Delivery, Subscription, WebhookEvent } from "../store/webhooks.js";

/**
 * The body of every webhook (Standard Webhooks' recommended shape): `type`, `timestamp` (ISO 8601)
 * and `data`, which names the host and, for an invite's event, the invite (its id is its token:
 * receivers must keep it as secret as the link), the key that made it, its `ref`, and for a
 * redemption the new account. Never a key's secret, a password, or a note.
 */
export interface WebhookBody {
  readonly type: WebhookEvent;
  readonly timestamp: string;
  readonly data: { readonly host: string } & Record<string, unknown>;
}

/**
 * Whether a subscription takes an event: its host's, of a type it asked for, and for one made with
 * --groups, only an invite's event whose `groups` are non-empty and all within them (the host's own
 * events, and events without groups, never).
 */
export function takes(subscription: Subscription, body: WebhookBody): boolean {
  if (subscription.host !== body.data.host || !subscription.events.includes(body.type)) return false;
  const circles = subscription.groups;
  if (!circles?.length) return true;
  const groups = body.data.groups;
  return (
    Array.isArray(groups) &&
    groups.length > 0 &&
    groups.every((group) => typeof group === "string" && circles.includes(group))
  );
}

/**
 * One delivery per subscription of the host that takes this event (`takes`). The webhook-id is derived from
 * the subscription and the event, so that an event queued twice (two instances, a retried step)
 * is one delivery, and a receiver sees the same id on every attempt.
 */
export function deliveriesFor(
  subscriptions: readonly Subscription[],
  eventId: string,
  body: WebhookBody,
  at: number,
): Delivery[] {
  const payload = JSON.stringify(body);
  return subscriptions
    .filter((s) => takes(s, body))
    .map((s) => ({
      id: `msg_${createHash("sha256").update(`${s.id}\n${eventId}`).digest("base64url").slice(0, 32)}`,
      subscriptionId: s.id,
      payload,
      createdAt: at,
      attempts: 0,
    }));
}
