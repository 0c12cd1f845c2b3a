import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Context, Next } from "koa";
import { pino } from "pino";
import { AppError } from "../../src/errors.js";
import { createHttpApp } from "../../src/http/server.js";
import { markChecked } from "../../src/http/requireApiKey.js";
import { createKeyStore, type KeyStore } from "../../src/keys/keyStore.js";
import { createRateLimits } from "../../src/limits/rateLimits.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { personCaller } from "../../src/people/caller.js";
import { createSignIn } from "../../src/people/signIn.js";
import type { Sessions } from "../../src/people/sessions.js";
import { createPersonLookup } from "../../src/xmpp/people.js";
import type { PeoplePolicy } from "../../src/people/types.js";
import { openBoundedStore } from "../../src/store/open.js";
import type { ServiceStore } from "../../src/store/store.js";
import { createEventSink } from "../../src/webhooks/sink.js";
import { cachedCommands } from "../../src/xmpp/adhoc.js";
import { connectComponent } from "../../src/xmpp/connection.js";
import { createInviteIssuer } from "../../src/xmpp/inviteIssuer.js";
import { createInviteManager, type InviteManager } from "../../src/xmpp/inviteManager.js";
import { createOperatorControls } from "../../src/xmpp/operatorControlsCommands.js";
import type { Component } from "./stack.js";
import { MANAGE_MODULES, startProsody, type RunningProsody } from "./prosody.js";

/** The header the fake session reads: the bare JID of the person the request comes from. */
export const PERSON_HEADER = "X-Test-Person";

export interface PeopleApp {
  readonly url: string;
  readonly keys: KeyStore;
  readonly store: ServiceStore;
  readonly manager: InviteManager;
  /** The audit and access lines so far. */
  readonly lines: Array<Record<string, unknown>>;
  /** With `sessions: true`: the service's own sessions, to sign people in without a link. */
  readonly sessions?: Sessions;
  stop(): Promise<void>;
}

/**
 * The service's HTTP app in this process, wired as app.ts wires it (a real component connection to
 * Prosody, the real store, the routes of server.ts), with a fake session in front: a request with
 * PERSON_HEADER acts as that person, whose role is `roles[jid]`, through personCaller() and the
 * policy, exactly as the session gate hands a person to the routes (ctx.state.apiKey, .person).
 * A person personCaller() gives nothing is refused as the brief says: 403 insufficient_scope.
 * With `sessions: true`, no fake: the service's own session gate (createSignIn, as app.ts builds
 * it), asking the real Prosody who each person is (mod_invites_manage's person command).
 */
export async function startPeopleApp(opts: {
  prosody: RunningProsody;
  component: Component;
  keyStore: string;
  policy: PeoplePolicy;
  roles: Readonly<Record<string, string>>;
  sessions?: boolean;
}): Promise<PeopleApp> {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: "info" },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const store = await openBoundedStore(opts.keyStore, log);
  const keys = createKeyStore(store.keyRecords, store.usage, { changes: store.changes });
  const connection = connectComponent({
    service: `xmpp://127.0.0.1:${opts.prosody.componentPort}`,
    domain: opts.component.domain,
    secret: opts.component.secret,
    reconnect: { minMs: 100, maxMs: 1_000 },
    log,
  });
  const adhoc = { request: connection.request, componentJid: connection.jid, timeoutMs: 20_000 };
  const commands = cachedCommands(adhoc);
  const manager = createInviteManager(adhoc, commands);
  const limits = createRateLimits({ defaultKeyRate: undefined, failureLimit: undefined, limiters: store.limiters });
  const signIn = opts.sessions
    ? createSignIn({
        publicUrl: "http://127.0.0.1",
        sessions: { lifetimeMs: 3_600_000, idleMs: 3_600_000 },
        signInLink: { ttlMs: 300_000, accountRate: undefined, addressRate: undefined },
        policy: opts.policy,
        store,
        lookup: createPersonLookup(adhoc, commands),
        messages: { send: async () => undefined },
        knownHost: async () => true,
        limits,
        trustedProxies: 0,
        log,
      })
    : undefined;
  const app = createHttpApp({
    keys,
    limits,
    ...(signIn?.routes ? { sessionRoutes: signIn.routes } : {}),
    metrics: createMetrics({ xmppOnline: () => connection.status().online }),
    issuer: createInviteIssuer(adhoc, log, manager),
    manager,
    controls: createOperatorControls(adhoc, commands),
    events: createEventSink({ store: store.webhooks, log, queued: () => {} }),
    quotas: store.quotas,
    log,
    xmppStatus: connection.status,
    gate: false,
  });
  let sessions = 0;
  // Right after errorResponses, as the session gate sits: its refusals are answered as any other.
  const at = app.middleware.findIndex((middleware) => middleware.name === "errorResponses") + 1;
  if (!signIn)
    app.middleware.splice(at, 0, async function fakeSession(ctx: Context, next: Next) {
      const jid = ctx.get(PERSON_HEADER);
      if (!jid) return next();
      const role = opts.roles[jid];
      if (role === undefined) throw new AppError("invalid_key", "no such test person");
      const host = jid.slice(jid.indexOf("@") + 1);
      const facts = { exists: true, enabled: true, role };
      const act = personCaller(facts, { jid, host, createdAt: Date.now(), hash: `session-${++sessions}` }, opts.policy);
      if (!act) throw new AppError("insufficient_scope", `${jid}'s role gives no power`);
      (ctx.state as { person?: unknown }).person = act.person;
      markChecked(ctx.req, act.apiKey);
      return next();
    });
  const server: Server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const started = Date.now();
  while (!connection.status().online) {
    if (Date.now() - started > 15_000) throw new Error(`component not online: ${connection.status().problem}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keys,
    store,
    manager,
    lines,
    ...(signIn?.sessions ? { sessions: signIn.sessions } : {}),
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await connection.stop();
      await keys.flush();
      await store.close().catch(() => undefined);
    },
  };
}

export const CIRCLES_HOST = "circles.test";
export const CIRCLES_COMPONENT = { domain: "invites.circles.test", secret: "circles-secret" };
/** A second component, for a second instance (Prosody takes one connection per component). */
export const CIRCLES_COMPONENT_2 = { domain: "invites2.circles.test", secret: "circles-secret-2" };

/**
 * A Prosody with one host whose invites may carry groups team-a, team-b and team-c, the component
 * managing its invites, and an ordinary account `paul` (for password resets).
 */
export async function startCirclesProsody(
  opts: { admins?: readonly string[]; accounts?: readonly string[] } = {},
): Promise<RunningProsody> {
  const prosody = await startProsody({
    hosts: [CIRCLES_HOST],
    components: [CIRCLES_COMPONENT, CIRCLES_COMPONENT_2],
    admins: [],
    hostOptions: { [CIRCLES_HOST]: { modules: MANAGE_MODULES, ...(opts.admins ? { admins: opts.admins } : {}) } },
    // Thousands of commands: debug lines would be most of the time they take.
    logLevel: "info",
    extra: [
      `invites_manage_jids = { "${CIRCLES_COMPONENT.domain}", "${CIRCLES_COMPONENT_2.domain}" }`,
      `invites_manage_groups = { ["team-a"] = "Team A", ["team-b"] = "Team B", ["team-c"] = "Team C" }`,
      `invites_manage_roles = { "prosody:registered" }`,
    ].join("\n"),
  });
  for (const name of ["paul", ...(opts.accounts ?? [])]) {
    prosody.ctl(["register", name, CIRCLES_HOST, `${name}-password-1`]);
  }
  return prosody;
}

/** A request as `who`: a person (a JID, through the fake session) or a key (its name in `secrets`). */
export type CallAs = (who: string, method: string, path: string, json?: unknown) => Promise<Response>;

export function callAs(app: PeopleApp, secrets: Readonly<Record<string, string>>): CallAs {
  // With real sessions: each person signed in once (a session minted as a redeemed link mints it).
  const signedIn = new Map<string, Promise<Record<string, string>>>();
  const sessionOf = (jid: string, sessions: Sessions) => {
    let headers = signedIn.get(jid);
    if (!headers) {
      const host = jid.slice(jid.indexOf("@") + 1);
      headers = sessions
        .create({ jid, host, via: "link" })
        .then(({ id, record }) => ({ Cookie: `invites_session=${id}`, "X-CSRF-Token": record.csrf }));
      signedIn.set(jid, headers);
    }
    return headers;
  };
  return async (who, method, path, json) =>
    fetch(`${app.url}${path}`, {
      method,
      headers: {
        Accept: "application/json",
        ...(!who.includes("@")
          ? { Authorization: `Bearer ${secrets[who]}` }
          : app.sessions
            ? await sessionOf(who, app.sessions)
            : { [PERSON_HEADER]: who }),
        ...(json === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
}
