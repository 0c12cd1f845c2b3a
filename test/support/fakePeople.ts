import inject, { type InjectOptions, type Response } from "light-my-request";
import Keyv from "keyv";
import Koa from "koa";
import Router from "@koa/router";
import { pino, type Logger } from "pino";
import { errorResponses } from "../../src/http/errors.js";
import { requireApiKey } from "../../src/http/requireApiKey.js";
import { createKeyStore, type KeyStore } from "../../src/keys/keyStore.js";
import { createRateLimits } from "../../src/limits/rateLimits.js";
import { HTTP_METHODS } from "../../src/keys/keyRecord.js";
import type { RateLimits } from "../../src/limits/rateLimits.js";
import { sessionGate, type CallerFor, type SessionGate } from "../../src/people/sessionCaller.js";
import { mountSessionRoutes } from "../../src/people/sessionRoutes.js";
import { createSessions, type Sessions } from "../../src/people/sessions.js";
import { createSignInLimits } from "../../src/people/signInLimits.js";
import { createSignInLinks } from "../../src/people/signInLink.js";
import type { OneTimeStore, PersonFacts, PersonLookup, QuotaState, QuotaStore } from "../../src/people/types.js";
import type { Rate } from "../../src/keys/keyRecord.js";

// Small fakes of what people's sign-in talks to (Prosody's person command, the component's
// messages, the one-time and quota stores), and the session routes on a Koa app of their own.

export const PUBLIC_URL = "https://invites.example.test";
export const HOST = "example.test";

/** Accounts as Prosody would answer for them; `calls` lists each question. */
export function fakeLookup(accounts: Record<string, Partial<PersonFacts>> = {}) {
  const calls: string[] = [];
  const lookup: PersonLookup = {
    async person(host, jid) {
      calls.push(jid);
      const known = accounts[jid];
      if (!known || !jid.endsWith(`@${host}`)) return { exists: false, enabled: false, role: "" };
      return { exists: true, enabled: true, role: "prosody:registered", ...known };
    },
  };
  return { lookup, accounts, calls };
}

export function fakeMessages() {
  const sent: Array<{ to: string; body: string }> = [];
  return { messages: { send: async (to: string, body: string) => void sent.push({ to, body }) }, sent };
}

export function fakeOneTime(now: () => number = Date.now) {
  const values = new Map<string, { value: string; until: number }>();
  const store: OneTimeStore = {
    async put(id, value, ttlMs) {
      values.set(id, { value, until: now() + ttlMs });
    },
    async take(id) {
      const entry = values.get(id);
      values.delete(id);
      return entry && entry.until > now() ? entry.value : undefined;
    },
  };
  return { store, values };
}

export function fakeQuotas(used: Record<string, number[]> = {}): QuotaStore {
  const peek = async (subject: string, limit: number, windowMs: number, now: number): Promise<QuotaState> => {
    const uses = (used[subject] ?? []).filter((at) => at > now - windowMs).sort((a, b) => a - b);
    return { limit, used: uses.length, ...(uses.length ? { nextAt: uses[0]! + windowMs } : {}) };
  };
  return {
    peek,
    take: async (subject, limit, windowMs, now) => ({ taken: false, state: await peek(subject, limit, windowMs, now) }),
    release: async () => undefined,
  };
}

/** personCaller's shape, from the role alone: admins manage, the registered create within a quota, others nothing. */
export const simpleCaller: CallerFor = (facts, session) => {
  if (!facts.exists || !facts.enabled) return undefined;
  const admin = facts.role === "prosody:admin";
  if (!admin && facts.role !== "prosody:registered") return undefined;
  const quota: Rate = { points: 5, durationSeconds: 7 * 86_400 };
  const powers = admin ? (["account", "list", "revoke"] as const) : (["account"] as const);
  return {
    apiKey: {
      id: session.jid,
      host: session.host,
      name: session.jid,
      createdAt: new Date(session.createdAt).toISOString(),
      methods: [...HTTP_METHODS],
      scopes: admin ? ["manage"] : ["create"],
      invitesIssued: 0,
      accountsRegistered: 0,
    },
    person: {
      jid: session.jid,
      host: session.host,
      role: facts.role,
      powers: [...powers],
      ...(admin ? {} : { quota }),
      ownOnly: !admin,
      sessionHash: session.hash,
    },
  };
};

export interface PeopleAppOptions {
  /** Shared between "instances". */
  readonly people?: Keyv;
  readonly oneTime?: OneTimeStore;
  readonly lookup?: PersonLookup;
  readonly hosts?: readonly string[];
  readonly now?: () => number;
  readonly publicUrl?: string | undefined;
  readonly lifetimeMs?: number;
  readonly idleMs?: number;
  readonly accountRate?: Rate;
  readonly addressRate?: Rate;
  readonly limits?: Pick<RateLimits, "assertNotBlocked" | "recordFailure">;
  readonly quotas?: QuotaStore;
  readonly log?: Logger;
  readonly trustedProxies?: number;
  readonly oauthHosts?: readonly string[];
  readonly toCaller?: CallerFor;
}

export interface PeopleApp {
  request(options: InjectOptions | string): Promise<Response>;
  readonly sessions: Sessions;
  readonly gate: SessionGate;
  readonly people: Keyv;
  readonly sent: Array<{ to: string; body: string }>;
  readonly oneTime: OneTimeStore;
  /** Waits for the sign-in links' work started so far. */
  settled(): Promise<void>;
  /** The routes' app, with `extra` routes behind the session gate (a stand-in for the API's). */
  readonly router: Router;
  /** The keys `/api` (the session or a key, as the API's routes) takes. */
  readonly keys: KeyStore;
}

/** The session routes (and an `/echo` route behind the gate's caller) on their own Koa app. */
export function peopleApp(opts: PeopleAppOptions = {}): PeopleApp {
  const now = opts.now ?? Date.now;
  const people = opts.people ?? new Keyv();
  const oneTime = opts.oneTime ?? fakeOneTime(now).store;
  const lookup = opts.lookup ?? fakeLookup({ [`alice@${HOST}`]: {} }).lookup;
  const log = opts.log ?? pino({ level: "silent" });
  const publicUrl = "publicUrl" in opts ? opts.publicUrl : PUBLIC_URL;
  const toCaller = opts.toCaller ?? simpleCaller;
  const trustedProxies = opts.trustedProxies ?? 0;
  const sessions = createSessions({
    people,
    lifetimeMs: opts.lifetimeMs ?? 12 * 3_600_000,
    idleMs: opts.idleMs ?? 30 * 60_000,
    secure: (publicUrl ?? "").startsWith("https:"),
    now,
  });
  const gate = sessionGate({ sessions, lookup, toCaller, trustedProxies, now });
  const signInLimits = createSignInLimits({
    accountRate: opts.accountRate ?? { points: 1_000, durationSeconds: 60 },
    addressRate: opts.addressRate ?? { points: 1_000, durationSeconds: 60 },
  });
  const { messages, sent } = fakeMessages();
  const work: Array<Promise<void>> = [];
  const hosts = opts.hosts ?? [HOST];
  const router = new Router();
  const onlyMethods = (allow: string) => (ctx: Koa.Context) => {
    ctx.set("Allow", allow);
    ctx.throw(405);
  };
  mountSessionRoutes(
    router,
    publicUrl === undefined
      ? undefined
      : {
          sessions,
          gate,
          toCaller,
          people,
          quotas: opts.quotas ?? fakeQuotas(),
          links: {
            links: createSignInLinks({
              publicUrl,
              oneTime,
              lookup,
              messages,
              knownHost: async (host) => hosts.includes(host),
              toCaller,
              ttlMs: 5 * 60_000,
              allowsPrepped: (typed, prepped) => signInLimits.allowsPrepped(typed, prepped),
              log,
              now,
            }),
            limits: signInLimits,
          },
          ...(opts.oauthHosts ? { oauthHosts: () => opts.oauthHosts ?? [] } : {}),
          ...(opts.limits ? { limits: opts.limits } : {}),
          trustedProxies,
          now,
          sending: (promise) => void work.push(promise),
        },
    onlyMethods,
  );
  // A stand-in for the API's routes: who the gate says is calling.
  router.all("/echo", gate.caller, (ctx) => {
    const state = ctx.state as { apiKey?: { id: string }; person?: { jid: string } };
    ctx.body = { key: state.apiKey?.id ?? null, person: state.person?.jid ?? null };
  });
  // As server.ts guards the API's routes: a session's person, else a key.
  const keys = createKeyStore(new Keyv());
  const keyCheck = requireApiKey({
    keys,
    limits: createRateLimits({ defaultKeyRate: undefined, failureLimit: undefined }),
    trustedProxies,
  });
  router.all("/api", gate.orKey(keyCheck), (ctx) => {
    const state = ctx.state as { apiKey: { id: string }; person?: { jid: string } };
    ctx.body = { key: state.apiKey.id, person: state.person?.jid ?? null };
  });
  const app = new Koa();
  app.use(errorResponses(log));
  app.use(router.routes());
  const handler = app.callback();
  return {
    request: (options) => inject(handler, options),
    sessions,
    gate,
    people,
    sent,
    oneTime,
    router,
    keys,
    async settled() {
      await Promise.all(work);
    },
  };
}

/** The `name=value` a Set-Cookie header sets, and its attributes. */
export function setCookie(res: Response): { name: string; value: string; attributes: string[] } | undefined {
  const header = res.headers["set-cookie"];
  const line = Array.isArray(header) ? header.at(-1) : header;
  if (!line) return undefined;
  const [pair = "", ...attributes] = line.split(/;\s*/);
  const eq = pair.indexOf("=");
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes };
}

/** The token of the sign-in link in a message. */
export const tokenIn = (body: string): string | undefined => /#sign-in=([A-Za-z0-9_-]+)/.exec(body)?.[1];
