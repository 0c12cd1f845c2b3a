import type { Context } from "koa";
import { clientAddress } from "../http/clientAddress.js";
import type { Logger } from "../log.js";
import type { RateLimits } from "../limits/rateLimits.js";
import type { Rate } from "../keys/keyRecord.js";
import type { ServiceStore } from "../store/store.js";
import { personCaller } from "./caller.js";
import { sessionGate, type CallerFor, type SessionGate } from "./sessionCaller.js";
import type { SessionRouteDeps } from "./sessionRoutes.js";
import { createSessions, type Sessions } from "./sessions.js";
import { createSignInLimits } from "./signInLimits.js";
import { createSignInLinks } from "./signInLink.js";
import type { MessageSender, PeoplePolicy, PersonLookup } from "./types.js";

export interface SignInOptions {
  /** PUBLIC_URL; none: nobody signs in. */
  readonly publicUrl: string | undefined;
  readonly sessions: { readonly lifetimeMs: number; readonly idleMs: number };
  readonly signInLink: {
    readonly ttlMs: number;
    readonly accountRate: Rate | undefined;
    readonly addressRate: Rate | undefined;
  };
  /** PEOPLE_POWERS. */
  readonly policy: PeoplePolicy;
  readonly store: Pick<ServiceStore, "people" | "oneTime" | "quotas" | "limiters">;
  readonly lookup: PersonLookup;
  readonly messages: MessageSender;
  /** Whether the service serves a host (cachedKnownHosts). */
  readonly knownHost: (host: string) => Promise<boolean>;
  /** Failed redeems count against the address like failed keys. */
  readonly limits: RateLimits;
  readonly trustedProxies: number;
  readonly log: Logger;
  /** PEOPLE_OAUTH's hosts. */
  readonly oauthHosts?: () => readonly string[];
}

/** People's sign-in as the service wires it; all undefined without PUBLIC_URL. */
export interface SignIn {
  readonly sessions?: Sessions;
  /** The one session gate: its `caller` goes in front of the API's key check. */
  readonly gate?: SessionGate;
  /** mountSessionRoutes' dependencies (none: its routes answer 501). */
  readonly routes?: SessionRouteDeps;
  /** Counts a sign-in started at the XMPP server's page against the client's address. */
  readonly countStart?: (ctx: Context) => Promise<void>;
}

/** Builds sessions, the gate, sign-in links and the session routes' dependencies from the configuration. */
export function createSignIn(opts: SignInOptions): SignIn {
  const publicUrl = opts.publicUrl;
  if (publicUrl === undefined) return {};
  const toCaller: CallerFor = (facts, session) => personCaller(facts, session, opts.policy);
  const sessions = createSessions({
    people: opts.store.people,
    ...opts.sessions,
    secure: publicUrl.startsWith("https:"),
  });
  const gate = sessionGate({ sessions, lookup: opts.lookup, toCaller, trustedProxies: opts.trustedProxies });
  const limits = createSignInLimits({
    accountRate: opts.signInLink.accountRate,
    addressRate: opts.signInLink.addressRate,
    limiters: opts.store.limiters,
  });
  const links = createSignInLinks({
    publicUrl,
    oneTime: opts.store.oneTime,
    lookup: opts.lookup,
    messages: opts.messages,
    knownHost: opts.knownHost,
    toCaller,
    ttlMs: opts.signInLink.ttlMs,
    allowsPrepped: (typed, prepped) => limits.allowsPrepped(typed, prepped),
    log: opts.log,
  });
  return {
    sessions,
    gate,
    countStart: (ctx) => limits.consumeAddress(clientAddress(ctx.req, opts.trustedProxies)),
    routes: {
      sessions,
      gate,
      toCaller,
      people: opts.store.people,
      quotas: opts.store.quotas,
      links: { links, limits },
      limits: opts.limits,
      trustedProxies: opts.trustedProxies,
      ...(opts.oauthHosts ? { oauthHosts: opts.oauthHosts } : {}),
    },
  };
}
