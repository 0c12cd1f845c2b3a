import { randomBytes } from "node:crypto";
import { graceEnd, runningGrace } from "../keys/rotation.js";
import type { Subscription, WebhookStore } from "../store/webhooks.js";

/** Standard Webhooks' form of a signing secret: whsec_ and 32 random bytes in base64. */
export const generateSigningSecret = (): string => `whsec_${randomBytes(32).toString("base64")}`;

/** How often a rotation is tried again when another writer changed the subscription meanwhile. */
const MAX_TRIES = 20;

/**
 * A subscription with a new signing secret; the one it replaces signs too until the grace ends, so
 * that a receiver verifying with either secret accepts every delivery while it moves over (Standard
 * Webhooks: several signatures, space-separated, in webhook-signature). As for keys (src/keys/rotation.ts),
 * at most two: a rotation during a grace ends the oldest at once; a grace of 0 ends the replaced one at once.
 */
export function rotatedSubscription(
  subscription: Subscription,
  secret: string,
  at: Date,
  graceMs: number,
): Subscription {
  const { previousSecret: _secret, previousSecretUntil: _until, ...rest } = subscription;
  const until = graceEnd(at, graceMs);
  const previous = until ? { previousSecret: subscription.secret, previousSecretUntil: until } : {};
  return { ...rest, secret, secretRotatedAt: at.toISOString(), ...previous };
}

/** When the previous secret's grace ends, if it still runs at `now`. */
export const signingGraceUntil = (subscription: Subscription, now: Date): string | undefined =>
  runningGrace(subscription.previousSecret, subscription.previousSecretUntil, now);

/** The secrets a delivery sent at `now` is signed with: the current one first, then the previous one in its grace. */
export function signingSecrets(subscription: Subscription, now: Date): string[] {
  const previous = signingGraceUntil(subscription, now) ? subscription.previousSecret : undefined;
  return previous ? [subscription.secret, previous] : [subscription.secret];
}

/**
 * Rotates HOST's subscription `id` with the store's compare-and-set, read again when another
 * writer changed it meanwhile: a concurrent delete stays final, a concurrent rotation is not lost.
 * Undefined when the host has no such subscription.
 */
export async function rotateSubscription(
  store: WebhookStore,
  host: string,
  id: string,
  graceMs: number,
  at: Date = new Date(),
): Promise<{ subscription: Subscription; secret: string } | undefined> {
  const secret = generateSigningSecret();
  for (let tries = 0; tries < MAX_TRIES; tries += 1) {
    const record = await store.subscriptionRecord(id);
    if (record === undefined) return undefined;
    const current = JSON.parse(record) as Subscription;
    if (current.host !== host) return undefined;
    const subscription = rotatedSubscription(current, secret, at, graceMs);
    if (await store.replaceSubscription(id, record, JSON.stringify(subscription))) return { subscription, secret };
  }
  throw new Error(`the webhook ${id} kept changing under the rotation`);
}
