import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ServiceConfig } from "./config.js";
import { createHttpApp } from "./http/server.js";
import { loadAdminPage } from "./http/adminPage.js";
import { loadInviteAssets } from "./invitePage/assets.js";
import { cachedKnownHosts } from "./invitePage/knownHosts.js";
import type { InvitePageDeps } from "./invitePage/routes.js";
import { createInviteDoor } from "./xmpp/inviteDoorCommands.js";
import { createKeyStore, type KeyStore } from "./keys/keyStore.js";
import { openBoundedStore } from "./store/open.js";
import { createRateLimits } from "./limits/rateLimits.js";
import { instrumentIssuer, instrumentManager } from "./metrics/instrumentIssuer.js";
import { cachedBudgets } from "./metrics/budgets.js";
import { createMetrics } from "./metrics/metrics.js";
import type { Logger } from "./log.js";
import { connectComponent, type ComponentConnection } from "./xmpp/connection.js";
import { cachedCommands } from "./xmpp/adhoc.js";
import { createInviteIssuer } from "./xmpp/inviteIssuer.js";
import { createInviteManager, REDEEMED_NUDGE } from "./xmpp/inviteManager.js";
import { laneListing, LISTING_LANE } from "./xmpp/listingLane.js";
import { createOperatorControls } from "./xmpp/operatorControlsCommands.js";
import { startRedemptionSync } from "./redemptions/redemptionSync.js";
import { notifyInviterBy } from "./redemptions/inviterNotice.js";
import { startDeliverer } from "./webhooks/deliverer.js";
import { createSignIn } from "./people/signIn.js";
import type { OAuthRouteDeps } from "./people/oauthRoutes.js";
import { personCaller } from "./people/caller.js";
import { createMessageSender } from "./xmpp/messages.js";
import { createPersonLookup } from "./xmpp/people.js";
import { createEventSink } from "./webhooks/sink.js";

export interface Service {
  /** http://HOST:PORT the API listens on (the real port when HTTP_PORT=0). */
  readonly url: string;
  readonly connection: ComponentConnection;
  readonly keys: KeyStore;
  /**
   * Turns /ready to 503 and closes each connection after its next answer; after the grace period
   * stops accepting, lets requests in flight finish (up to the drain timeout), closes XMPP and the store.
   */
  stop(): Promise<void>;
}

/** How long /metrics keeps a host's registration budget before asking Prosody again. */
const BUDGET_METRICS_MS = 15_000;

/** Wires the parts together and starts listening. A store that does not answer fails the start. */
export async function start(config: ServiceConfig, log: Logger): Promise<Service> {
  // Before anything opens: a missing build fails the start at once.
  const adminPage = config.adminPage ? loadAdminPage() : undefined;
  const inviteAssets = config.invitePage ? loadInviteAssets() : undefined;
  // Every store call bounded (STORE_TIMEOUT_MS): a store that stops answering is a 503, never a hang.
  const store = await openBoundedStore(config.keyStore, log);
  const keys = createKeyStore(store.keyRecords, store.usage, { changes: store.changes });

  const connection = connectComponent({ ...config.component, reconnect: config.reconnect, log });
  const adhoc = { request: connection.request, componentJid: connection.jid, timeoutMs: config.inviteTimeoutMs };
  const commands = cachedCommands(adhoc);
  const manager = laneListing(createInviteManager(adhoc, commands), LISTING_LANE);
  const controls = createOperatorControls(adhoc, commands);
  // The hosts the service serves: those of its keys and of its webhook subscriptions, and those
  // PEOPLE_POWERS or PEOPLE_OAUTH name (people may sign in where no key was ever made).
  const peopleHosts = [...Object.keys(config.peoplePowers), ...Object.keys(config.peopleOAuth)].filter(
    (host) => host !== "*",
  );
  const hosts = async () => [
    ...new Set([
      ...(await keys.hosts()),
      ...(await store.webhooks.listSubscriptions()).map((s) => s.host),
      ...peopleHosts,
    ]),
  ];
  // /metrics shows each host's budget, asked of Prosody at most once per BUDGET_METRICS_MS per host.
  const budgets = cachedBudgets({
    hosts,
    controls,
    available: async (host) => connection.status().online && (await manager.available(host)),
    ttlMs: BUDGET_METRICS_MS,
  });
  const metrics = createMetrics({
    xmppOnline: () => connection.status().online,
    redemptionTotals: () => store.ledger.redemptionTotals(),
    webhookBacklog: () => store.webhooks.backlog(),
    budgets: () => budgets.read(),
  });
  const deliverer = startDeliverer({
    store: store.webhooks,
    log,
    counted: (outcome) => metrics.webhookDelivery(outcome),
    ...config.webhooks,
    concurrency: 8,
    perSubscription: 2,
  });
  const events = createEventSink({ store: store.webhooks, log, queued: () => deliverer.wake() });
  const issuer = instrumentIssuer(createInviteIssuer(adhoc, log, manager), metrics);
  const limits = createRateLimits({
    defaultKeyRate: config.defaultKeyRate,
    failureLimit: config.authFailureLimit,
    manageRate: config.manageRate,
    invitePageRate: config.invitePageRate,
    inviteSignupRate: config.inviteSignupRate,
    limiters: store.limiters,
  });
  // The invite page asks Prosody through mod_invites_manage's landing, name and redeem commands;
  // a host the service does not serve is refused before that, from the list above (kept 30 s;
  // read again at most once a second when a host is missing from it).
  const invitePage: InvitePageDeps | undefined = inviteAssets
    ? { door: createInviteDoor(adhoc, commands), knownHost: cachedKnownHosts(hosts), assets: inviteAssets }
    : undefined;
  // People signing in (issue 29): nothing of it without PUBLIC_URL.
  const knownHost = cachedKnownHosts(hosts);
  const people = createPersonLookup(adhoc, commands);
  const messages = createMessageSender({ send: connection.send, componentJid: connection.jid, knownHost });
  const signIn = createSignIn({
    publicUrl: config.publicUrl,
    sessions: config.sessions,
    signInLink: config.signInLink,
    policy: config.peoplePowers,
    store,
    lookup: people,
    messages,
    knownHost,
    limits,
    trustedProxies: config.trustedProxies,
    log,
    oauthHosts: () => Object.keys(config.peopleOAuth),
  });
  // Sign-in through each PEOPLE_OAUTH host's own Prosody (13's mod_http_oauth2), into the same sessions.
  const sessions = signIn.sessions;
  const oauthRoutes: OAuthRouteDeps | undefined =
    config.publicUrl && sessions
      ? {
          publicUrl: config.publicUrl,
          providers: config.peopleOAuth,
          oneTime: store.oneTime,
          startSession: (ctx, who) => sessions.startSession(ctx, who),
          // As for a sign-in link: only an account whose role gives it something gets a session.
          mayAct: async (jid, host) => {
            const facts = await people.person(host, jid);
            return (
              personCaller(facts, { jid, host, createdAt: Date.now(), hash: "" }, config.peoplePowers) !== undefined
            );
          },
          ...(signIn.countStart ? { countStart: signIn.countStart } : {}),
          log,
        }
      : undefined;
  const redemptions = startRedemptionSync({
    manager,
    ledger: store.ledger,
    subscriptions: (host) => store.webhooks.listSubscriptions(host),
    queued: () => deliverer.wake(),
    hosts,
    online: () => connection.status().online,
    intervalMs: config.redemptionSyncMs,
    log,
    passed: (trigger) => metrics.redemptionPass(trigger),
    // Whoever made an invite hears when someone joins with it, unless they turned it off.
    notifyInviter: notifyInviterBy(messages),
    people: store.people,
  });
  connection.onOnline(() => redemptions.poke());
  // mod_invites_manage says so at each registration, from its VirtualHost; redemptions.nudge
  // ignores any other sender (another component, a remote server) and bounds the rate.
  connection.onMessage((message) => {
    if (message.getChild("redeemed", REDEEMED_NUDGE)) redemptions.nudge(String(message.attrs.from ?? ""));
  });
  let stopping = false;
  const app = createHttpApp({
    stopping: () => stopping,
    keys,
    limits,
    metrics,
    issuer,
    manager: instrumentManager(manager, metrics),
    idempotency: store.idempotency,
    quotas: store.quotas,
    controls,
    budgetSeen: (host, budget) => budgets.seen(host, budget),
    log,
    xmppStatus: connection.status,
    trustedProxies: config.trustedProxies,
    events,
    ...(adminPage ? { adminPage } : {}),
    ...(invitePage ? { invitePage } : {}),
    ...(signIn.routes ? { sessionRoutes: signIn.routes } : {}),
    ...(oauthRoutes ? { oauthRoutes } : {}),
  });
  const server: Server = app.listen(config.http.port, config.http.host);
  // Node drops a CONNECT request silently when nobody listens for it; answer it like any odd method.
  server.on("connect", (_req, socket) =>
    socket.end("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, POST, OPTIONS\r\nContent-Length: 0\r\n\r\n"),
  );
  try {
    await once(server, "listening");
  } catch (err) {
    await redemptions.stop();
    await deliverer.stop();
    await connection.stop();
    await store.close().catch(() => undefined);
    throw err;
  }
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  const url = `http://${host}:${port}`;
  log.info({ url }, "HTTP API listening");

  return {
    url,
    connection,
    keys,
    async stop() {
      // Every answer from now on says `Connection: close`, so each keep-alive connection is closed
      // by the service right after an answer, never under a request the client is sending; and
      // /ready says 503, so that a load balancer takes this instance out before the listener goes.
      stopping = true;
      log.info({ graceMs: config.shutdownGraceMs }, "stopping: /ready is 503, connections close after their answer");
      await new Promise((resolve) => setTimeout(resolve, config.shutdownGraceMs));
      // No new connections; the ones idle since the grace period began are closed (they sent nothing).
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const drained = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), config.shutdownTimeoutMs).unref()),
      ]);
      if (!drained) {
        log.warn(
          { drainMs: config.shutdownTimeoutMs },
          "requests still in flight after the drain period; closing them",
        );
        server.closeAllConnections();
      }
      await redemptions.stop();
      await deliverer.stop();
      await connection.stop();
      await keys.flush();
      await store.close().catch(() => undefined);
      log.info("stopped");
    },
  };
}
