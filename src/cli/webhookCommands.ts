import { randomBytes } from "node:crypto";
import { generateSigningSecret, rotateSubscription, signingGraceUntil } from "../webhooks/rotation.js";
import type { ServiceStore } from "../store/store.js";
import { withStore } from "./cliStore.js";
import { checkTarget, checkUrl } from "../webhooks/target.js";
import type { Subscription, SubscriptionStatus, WebhookEvent } from "../store/webhooks.js";
import type { Output } from "./keyCommands.js";

type Env = Record<string, string | undefined>;

/** A subscription the CLI was asked about does not exist (exit status 1). */
export class WebhookNotFoundError extends Error {
  override readonly name = "WebhookNotFoundError";
}

/** Opens the store KEY_STORE names, runs one command, closes it (cliStore.ts: deadline, which store). */
function withServiceStore<T>(
  env: Env,
  io: Output,
  writes: boolean,
  work: (store: ServiceStore) => Promise<T>,
): Promise<T> {
  return withStore(env, io, { writes }, work);
}

export interface AddOptions {
  readonly events: readonly WebhookEvent[];
  readonly allowHttp: boolean;
  readonly allowPrivate: boolean;
  /** Circles: only the events of invites within them (src/webhooks/events.ts). */
  readonly groups?: readonly string[];
}

/** Checks the URL (form, then where it leads now), stores the subscription, prints its secret once. */
export async function addWebhook(env: Env, io: Output, host: string, rawUrl: string, opts: AddOptions): Promise<void> {
  const url = checkUrl(rawUrl, opts);
  await checkTarget(url, opts);
  const subscription: Subscription = {
    id: randomBytes(9).toString("base64url").replace(/^[-_]/, "w"),
    host,
    url: url.href,
    events: opts.events,
    allowHttp: opts.allowHttp,
    allowPrivate: opts.allowPrivate,
    ...(opts.groups?.length ? { groups: [...opts.groups] } : {}),
    secret: generateSigningSecret(),
    createdAt: new Date().toISOString(),
  };
  await withServiceStore(env, io, true, (store) => store.webhooks.addSubscription(subscription));
  const circles = subscription.groups ? ` of invites in ${subscription.groups.join(",")}` : "";
  io.out(`webhook ${subscription.id} of ${host}: ${subscription.events.join(",")}${circles} to ${subscription.url}`);
  // The only time the secret leaves the store: alone on the last line, as `create` prints a key.
  io.out(subscription.secret);
}

type Shown = Omit<Subscription, "secret" | "previousSecret"> & SubscriptionStatus;

/** Never a secret; a rotation's grace only while it runs. */
async function shown(store: ServiceStore, host: string): Promise<Shown[]> {
  const subscriptions = await store.webhooks.listSubscriptions(host);
  const statuses = await store.webhooks.status(subscriptions.map((s) => s.id));
  const now = new Date();
  return subscriptions.map((subscription) => {
    const { secret: _secret, previousSecret: _previous, previousSecretUntil: _until, ...rest } = subscription;
    const until = signingGraceUntil(subscription, now);
    return { ...rest, ...(until ? { previousSecretUntil: until } : {}), backlog: 0, ...statuses.get(rest.id) };
  });
}

const lines = (s: Shown): Array<[string, string]> => [
  ["id", s.id],
  ["host", s.host],
  ["url", s.url],
  ["events", s.events.join(",")],
  ["groups", s.groups?.length ? s.groups.join(",") : "any (not confined to circles)"],
  ["created", s.createdAt],
  ["allow", [s.allowHttp ? "http" : "", s.allowPrivate ? "private" : ""].filter(Boolean).join(",") || "-"],
  ["last success", s.lastSuccessAt ?? "never"],
  ["last failure", s.lastFailureAt ? `${s.lastFailureAt} (${s.lastError ?? "?"})` : "never"],
  ["backlog", s.oldestAt ? `${s.backlog} (oldest ${new Date(s.oldestAt).toISOString()})` : String(s.backlog)],
  ...(s.secretRotatedAt ? [["rotated", s.secretRotatedAt] as [string, string]] : []),
  ...(s.previousSecretUntil ? [["old secret", `signs too until ${s.previousSecretUntil}`] as [string, string]] : []),
];

export async function listWebhooks(env: Env, io: Output, host: string, json: boolean): Promise<void> {
  const found = await withServiceStore(env, io, false, (store) => shown(store, host));
  if (json) {
    io.out(JSON.stringify(found, null, 2));
    return;
  }
  for (const s of found) {
    const failure = s.lastFailureAt ?? "never";
    io.out(
      [
        s.id,
        s.url,
        s.events.join(","),
        `ok:${s.lastSuccessAt ?? "never"}`,
        `failed:${failure}`,
        `backlog:${s.backlog}`,
      ].join("\t"),
    );
  }
}

export async function showWebhook(env: Env, io: Output, host: string, id: string, json: boolean): Promise<void> {
  const found = (await withServiceStore(env, io, false, (store) => shown(store, host))).find((s) => s.id === id);
  if (!found) throw new WebhookNotFoundError(`no webhook ${id} for host ${host}`);
  if (json) io.out(JSON.stringify(found, null, 2));
  else for (const [label, value] of lines(found)) io.out(`${`${label}:`.padEnd(14)}${value}`);
}

/** A new signing secret, printed once, alone on the last line as `webhook add` prints one. */
export async function rotateWebhook(env: Env, io: Output, host: string, id: string, graceMs: number): Promise<void> {
  const rotated = await withServiceStore(env, io, true, (store) =>
    rotateSubscription(store.webhooks, host, id, graceMs),
  );
  if (!rotated) throw new WebhookNotFoundError(`no webhook ${id} for host ${host}`);
  const until = rotated.subscription.previousSecretUntil;
  const old = until ? `deliveries are signed with the old one too until ${until}` : "the old one signs no more";
  io.out(`webhook ${id} of ${host} has a new signing secret; ${old}`);
  io.out(rotated.secret);
}

export async function deleteWebhook(env: Env, io: Output, host: string, id: string): Promise<void> {
  const deleted = await withServiceStore(env, io, true, async (store) => {
    const found = (await store.webhooks.listSubscriptions(host)).some((s) => s.id === id);
    return found && (await store.webhooks.deleteSubscription(id));
  });
  if (!deleted) throw new WebhookNotFoundError(`no webhook ${id} for host ${host}`);
  io.out(`deleted webhook ${id} of ${host} and its waiting deliveries`);
}
