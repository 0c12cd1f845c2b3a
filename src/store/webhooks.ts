/**
 * Webhook subscriptions and their outbox, kept in the key store so that every instance (and the
 * CLI) sees the same ones. Each backend implements this with its own atomic operations: a delivery
 * is taken by one instance at a time through a lease (its `nextAt` moved past the lease), and a
 * lease that runs out (the instance died) makes the delivery due again, under the same id.
 */

export const WEBHOOK_EVENTS = [
  "invite.created",
  "invite.redeemed",
  "invite.revoked",
  "invite.expired",
  "reset.redeemed",
  "registration.budget_exhausted",
  "registration.paused",
  "registration.resumed",
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface Subscription {
  readonly id: string;
  readonly host: string;
  readonly url: string;
  readonly events: readonly WebhookEvent[];
  /** Made with --allow-http: the URL may be http://. */
  readonly allowHttp: boolean;
  /** Made with --allow-private: the URL may lead to loopback, link-local or private addresses. */
  readonly allowPrivate: boolean;
  /**
   * Made with --groups: only the events of invites whose groups are within these (events that
   * carry `groups`); none: every event of the host.
   */
  readonly groups?: readonly string[];
  /** whsec_BASE64, as the Standard Webhooks libraries take it. */
  readonly secret: string;
  readonly createdAt: string;
  /** When `webhook rotate` last gave it a new secret. */
  readonly secretRotatedAt?: string;
  /** The secret the last rotation replaced: deliveries are signed with it too until previousSecretUntil. */
  readonly previousSecret?: string;
  /** ISO time at which the previous secret's grace ends. */
  readonly previousSecretUntil?: string;
}

/** What has happened to a subscription's deliveries. */
export interface SubscriptionStatus {
  readonly lastSuccessAt?: string;
  readonly lastFailureAt?: string;
  /** Why the last attempt failed (never a secret: a status, a timeout, a refused address). */
  readonly lastError?: string;
  /** Deliveries waiting (or under way). */
  readonly backlog: number;
  /** When the oldest of them was made (ms since the epoch). */
  readonly oldestAt?: number;
}

/** One event for one subscription: sent until the receiver answers 2xx, or the retry window ends. */
export interface Delivery {
  /** The webhook-id: the same on every attempt, so that a receiver can drop duplicates. */
  readonly id: string;
  readonly subscriptionId: string;
  /** The JSON body, as signed and sent. */
  readonly payload: string;
  /** When the event happened (ms). */
  readonly createdAt: number;
  readonly attempts: number;
}

export interface WebhookStore {
  addSubscription(subscription: Subscription): Promise<void>;
  /** Every subscription, or those of one host. */
  listSubscriptions(host?: string): Promise<Subscription[]>;
  /** Deletes it and its waiting deliveries; false when there was none. */
  deleteSubscription(id: string): Promise<boolean>;
  /** A subscription's record as stored (its JSON), for a compare-and-set; undefined when there is none. */
  subscriptionRecord(id: string): Promise<string | undefined>;
  /**
   * Writes the record `next` in place of the subscription's only if it still holds `expected`, in
   * one atomic operation; false when it holds something else or is gone (nothing is written then).
   * The record's id and host stay: `next` changes the rest (a rotation's secrets).
   */
  replaceSubscription(id: string, expected: string, next: string): Promise<boolean>;
  status(ids: readonly string[]): Promise<Map<string, SubscriptionStatus>>;
  /** Queues deliveries, due at once; a delivery id already queued is left as it is. */
  enqueue(deliveries: readonly Delivery[]): Promise<void>;
  /**
   * Takes up to `max` due deliveries for `leaseMs`: no other caller gets them until the lease
   * runs out; each comes with its attempts so far. With `fair`, no subscription gets more than
   * `perSubscription` less what the caller has of it in flight, and the subscriptions take turns:
   * each one's oldest due delivery comes before any one's second, so a receiver with a long queue
   * of retries cannot fill a claim.
   */
  claim(now: number, leaseMs: number, max: number, fair?: FairClaim): Promise<Delivery[]>;
  /** The receiver took it: gone from the outbox. */
  delivered(delivery: Delivery, at: number): Promise<void>;
  /** It failed: due again at `retryAt`, or dropped when `retryAt` is null (the window is over). */
  failed(delivery: Delivery, at: number, error: string, retryAt: number | null): Promise<void>;
  /**
   * Waiting deliveries (leased ones too), and the oldest one's time (ms), across every
   * subscription. Costs the same whatever the outbox holds: a count kept with each enqueue and
   * delete, the oldest read from an index; /metrics asks for it at every scrape.
   */
  backlog(): Promise<{ count: number; oldestAt?: number }>;
}

/** How a claim shares itself out: see `claim`. */
export interface FairClaim {
  readonly perSubscription: number;
  /** The caller's deliveries under way, by subscription. */
  readonly inFlight: ReadonlyMap<string, number>;
}

/** Per subscription, how many more a fair claim may take (Infinity without `fair`). */
export const roomOf = (fair: FairClaim | undefined, subscriptionId: string): number =>
  fair ? fair.perSubscription - (fair.inFlight.get(subscriptionId) ?? 0) : Infinity;

/**
 * The order of a fair claim's candidates, each one's `rank` its place in its subscription's due
 * queue (0 for the oldest due): all the first places, then the second ones, each round by due time.
 */
export const fairOrder = <T extends { rank: number; dueAt: number; id: string }>(a: T, b: T): number =>
  a.rank - b.rank || a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
