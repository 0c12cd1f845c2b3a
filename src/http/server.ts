import Koa from "koa";
import Router from "@koa/router";
import { bodyParser } from "@koa/bodyparser";
import type { KeyStore } from "../keys/keyStore.js";
import type { RateLimits } from "../limits/rateLimits.js";
import { withoutRedaction, type Logger } from "../log.js";
import type { InviteIssuer } from "../xmpp/inviteIssuer.js";
import type { InviteManager } from "../xmpp/inviteManager.js";
import type { ConnectionStatus } from "../xmpp/connection.js";
import type { Metrics } from "../metrics/metrics.js";
import { AppError } from "../errors.js";
import { accessLog, accessTracker } from "./accessLog.js";
import { adminPage, type AdminPageFiles } from "./adminPage.js";
import { keyGate, type Handler } from "./keyGate.js";
import { originalCors } from "./cors.js";
import { openApiDocument } from "./openapi.js";
import { countError, requestMetrics } from "./requestMetrics.js";
import { closeWhenStopping, health, readiness } from "./health.js";
import { errorResponses } from "./errors.js";
import { issueInvite } from "./invites.js";
import type { EventSink } from "../webhooks/sink.js";
import { accountInvite, createInvite, listInvites, revokeInvite, showInvite } from "./invitesResource.js";
import { inviteOptions } from "./inviteOptions.js";
import { keyPolicy } from "./keyPolicy.js";
import { requireApiKey } from "./requireApiKey.js";
import { mountInvitePage, type InvitePageDeps } from "../invitePage/routes.js";
import type { IdempotencyStore } from "../store/idempotency.js";
import type { OperatorControls, RegistrationBudget } from "../xmpp/operatorControls.js";
import { createBatch } from "./batch.js";
import { changeBudget, readBudget } from "./budget.js";
import { idempotent } from "./idempotency.js";
import { updateInvite } from "./inviteUpdate.js";
import type { QuotaStore } from "../people/types.js";
import { mountSessionRoutes, type SessionRouteDeps } from "../people/sessionRoutes.js";
import { mountOAuthRoutes, type OAuthRouteDeps } from "../people/oauthRoutes.js";

export interface HttpDeps {
  readonly metrics: Metrics;
  readonly keys: KeyStore;
  readonly limits: RateLimits;
  readonly now?: () => Date;
  /** Reverse proxies in front that append to X-Forwarded-For (see clientAddress.ts); 0 by default. */
  readonly trustedProxies?: number;
  readonly issuer: InviteIssuer;
  /** mod_invites_manage's commands, behind the /invites resource. */
  readonly manager: InviteManager;
  readonly log: Logger;
  readonly xmppStatus: () => ConnectionStatus;
  /** True once the service is shutting down. */
  readonly stopping?: () => boolean;
  /** false: no key gate in front of Koa (tests compare both ways' answers). */
  readonly gate?: boolean;
  /** Webhook events of invites made and revoked here. */
  readonly events?: EventSink;
  /** The admin page's files, served at /admin/; none: no page (ADMIN_PAGE=off). */
  readonly adminPage?: AdminPageFiles;
  /** The invite page at /invite/HOST/TOKEN, outside the key check; none: no page (INVITE_PAGE=off). */
  readonly invitePage?: InvitePageDeps;
  /** mod_invites_manage's budget and upkeep commands, behind /budget and PATCH /invites/{id}; none: 501. */
  readonly controls?: OperatorControls;
  /** Told of each budget the API reads or sets (for /metrics). */
  readonly budgetSeen?: (host: string, budget: RegistrationBudget) => void;
  /** Where the answers of Idempotency-Key requests are kept; none: the header is ignored. */
  readonly idempotency?: IdempotencyStore;
  /** Persons' invites per window (src/people/quota.ts). */
  readonly quotas?: QuotaStore;
  /** People's sign-in and sessions at /session (src/people/signIn.ts); none: 501 sign_in_unavailable. */
  readonly sessionRoutes?: SessionRouteDeps;
  /** Sign-in through Prosody 13's OAuth at /session/oauth (src/people/oauthRoutes.ts); none: 501 sign_in_unavailable. */
  readonly oauthRoutes?: OAuthRouteDeps;
}

function onlyMethods(allow: string) {
  return function onlyMethods(ctx: Koa.Context): void {
    ctx.set("Allow", allow);
    ctx.throw(405);
  };
}

/** Koa behind the key gate: `callback()` (and so `listen()`) lets the gate answer bad keys first. */
class GatedKoa extends Koa {
  gate: (handler: Handler) => Handler = (handler) => handler;
  override callback(): ReturnType<Koa["callback"]> {
    // The service listens with node:http only (no HTTP/2), so Koa's handler is a node:http one.
    return this.gate(super.callback() as Handler) as unknown as ReturnType<Koa["callback"]>;
  }
}

/** The Koa application; tests drive `app.callback()` directly, app.ts gives it a port. */
export function createHttpApp(deps: HttpDeps): Koa {
  const app = new GatedKoa();
  const trustedProxies = deps.trustedProxies ?? 0;
  // The access and audit lines: one or two per request, built from safe fields only.
  const lines = withoutRedaction(deps.log);
  const track = accessTracker(lines, trustedProxies);
  const stopping = deps.stopping ?? (() => false);
  const router = new Router();
  const now = deps.now ?? (() => new Date());

  // A signed-in person's session (its cookie, with X-CSRF-Token on changes), else a key, as before.
  const keyCheck = requireApiKey({ keys: deps.keys, limits: deps.limits, trustedProxies });
  const authenticated = deps.sessionRoutes ? deps.sessionRoutes.gate.orKey(keyCheck) : keyCheck;
  // A retry of a POST that creates, with the same Idempotency-Key, gets the first answer (idempotency.ts).
  const once: Koa.Middleware = deps.idempotency
    ? idempotent({ store: deps.idempotency, log: lines })
    : (_ctx, next) => next();
  const onceIfPost: Koa.Middleware = (ctx, next) => (ctx.method === "POST" ? once(ctx, next) : next());
  // /invites_api is the drop-in's, for keys only (the key gate in front answers it without one): a
  // GET there makes an invite, which no browser's cookie may do.
  const invite = [
    keyCheck,
    keyPolicy({ limits: deps.limits, now }),
    onceIfPost,
    issueInvite({
      issuer: deps.issuer,
      keys: deps.keys,
      log: lines,
      now,
      ...(deps.events ? { events: deps.events } : {}),
      ...(deps.quotas ? { quotas: deps.quotas } : {}),
    }),
  ];
  router.get("/invites_api", ...invite);
  router.post("/invites_api", ...invite);

  // The /invites resource (mod_http_admin_api's shape). Its methods are fixed by the route, so a
  // key's --methods do not apply; its scope does (listing and revoking need "manage").
  const resource = {
    manager: deps.manager,
    keys: deps.keys,
    log: lines,
    now,
    ...(deps.events ? { events: deps.events } : {}),
    ...(deps.controls ? { controls: deps.controls } : {}),
    ...(deps.quotas ? { quotas: deps.quotas } : {}),
  };
  const json = bodyParser({ enableTypes: ["json"], jsonLimit: "16kb", encoding: "utf-8" });
  // 1,000 invites with their notes and refs.
  const batchJson = bodyParser({ enableTypes: ["json"], jsonLimit: "2mb", encoding: "utf-8" });
  const creating = keyPolicy({ limits: deps.limits, now, methods: false });
  const managing = keyPolicy({ limits: deps.limits, now, methods: false, invites: false });
  for (const kind of ["account", "group", "reset"] as const) {
    router.post(`/invites/${kind}`, authenticated, creating, json, once, createInvite(kind, resource));
  }
  // A batch counts one point of the key's rate per invite, itself, once its body is read.
  const batch = keyPolicy({ limits: deps.limits, now, methods: false, invites: "counted" });
  router.post(
    "/invites/batch",
    authenticated,
    batch,
    batchJson,
    once,
    createBatch({ ...resource, limits: deps.limits }),
  );
  router.all(["/invites/account", "/invites/group", "/invites/reset", "/invites/batch"], onlyMethods("POST"));
  // Before /invites/:id, which would take "options" for an invite's id.
  router.get("/invites/options", authenticated, managing, inviteOptions(resource));
  router.all("/invites/options", onlyMethods("GET"));
  router.get("/invites", authenticated, managing, listInvites(resource));
  router.get("/invites/:id", authenticated, managing, showInvite(resource));
  router.patch("/invites/:id", authenticated, managing, json, updateInvite(resource));
  router.delete("/invites/:id", authenticated, managing, revokeInvite(resource));
  const budget = { log: lines, ...(deps.controls ? { controls: deps.controls } : {}) };
  const seen = deps.budgetSeen ? { seen: deps.budgetSeen } : {};
  router.get("/budget", authenticated, managing, readBudget({ ...budget, ...seen }));
  router.patch("/budget", authenticated, managing, json, changeBudget({ ...budget, ...seen }));
  router.all("/budget", onlyMethods("GET, PATCH"));
  router.get("/accounts/:jid/invite", authenticated, managing, accountInvite(resource));
  router.all("/accounts/:jid/invite", onlyMethods("GET"));
  router.all("/invites", onlyMethods("GET"));
  router.all("/invites/:id", onlyMethods("GET, PATCH, DELETE"));
  router.get("/health", health());
  router.get("/ready", readiness({ ...deps, stopping }));
  router.get("/metrics", async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  router.get("/openapi.json", (ctx) => {
    ctx.body = openApiDocument;
  });
  if (deps.adminPage) {
    const page = adminPage(deps.adminPage);
    router.get(["/admin", "/admin/"], page);
    router.get("/admin/:file", page);
    router.all(["/admin", "/admin/", "/admin/:file"], onlyMethods("GET"));
  }
  mountSessionRoutes(router, deps.sessionRoutes, onlyMethods);
  mountOAuthRoutes(router, deps.oauthRoutes);
  if (deps.invitePage) {
    mountInvitePage(router, { ...deps.invitePage, limits: deps.limits, trustedProxies, log: deps.log }, onlyMethods);
  }
  // Any other method on a known path: 405 naming the allowed ones (the router alone would say 501).
  router.all("/invites_api", onlyMethods("GET, POST, OPTIONS"));
  router.all(["/health", "/ready", "/metrics", "/openapi.json"], onlyMethods("GET"));

  app.use(closeWhenStopping(stopping));
  app.use(requestMetrics(deps.metrics));
  app.use(accessLog(track));
  const cors = originalCors();
  // The invite page is for its own origin only: no CORS there, so no other site reads a name check.
  app.use((ctx, next) => (ctx.path.startsWith("/invite/") ? next() : cors(ctx, next)));
  app.use(errorResponses(deps.log, countError(deps.metrics)));
  app.use(router.routes());
  app.use(() => {
    throw new AppError("not_found", "no such route");
  });
  if (deps.gate !== false)
    app.gate = (handler) =>
      keyGate(
        { keys: deps.keys, limits: deps.limits, trustedProxies, metrics: deps.metrics, track, stopping },
        handler,
      );
  // errorResponses catches everything; this only guards against a failure while writing the answer.
  app.on("error", (err: Error) => deps.log.error({ err: { name: err.name, message: err.message } }, "http error"));
  return app;
}
