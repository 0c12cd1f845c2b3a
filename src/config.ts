import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseDuration, parseRate } from "./keys/durations.js";
import { KNOWN_SCHEMES, storeKind } from "./store/url.js";
import type { Rate } from "./keys/keyRecord.js";
import { parsePeoplePolicy, PolicyError } from "./people/policy.js";
import type { PeoplePolicy } from "./people/types.js";
import { peopleOAuthFromEnv, type OAuthProviders } from "./people/oauthConfig.js";

/** Thrown when the environment does not describe a usable service; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const rateFromEnv = z
  .string()
  .refine((v) => v === "off" || parseRate(v) !== undefined, "expected N/PERIOD such as 60/1m, or off");

const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

// A duration such as 30m or 12h, between `min` and `max` milliseconds.
const durationFromEnv = (min: number, max: number, bounds: string) =>
  z.string().refine((v) => {
    const value = parseDuration(v);
    return value !== undefined && value >= min && value <= max;
  }, `expected a duration such as 30m or 12h, ${bounds}`);

// Each option: its variable, its type, its default, why it exists. docs/operations.md's table mirrors this.
const storeSchema = z.object({
  // Where API keys live: a SQLite file path (optionally `sqlite://PATH`), or redis://… or
  // postgres://… to share keys and rate-limit counts between instances.
  // An unknown scheme is refused (the message never repeats the value: it may hold a password).
  KEY_STORE: z
    .string()
    .min(1)
    .refine(
      (v) => storeKind(v) !== undefined,
      `has an unknown scheme: expected a file path or ${KNOWN_SCHEMES.join(", ")}`,
    )
    .default("./data/keys.sqlite"),
  // pino level; `silent` turns logging off.
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
});

const httpFields = {
  // The address and port the HTTP API listens on (the CLI's `budget` calls the service there).
  HTTP_HOST: z.string().min(1).default("127.0.0.1"),
  HTTP_PORT: intFromEnv(0, 65535).default(8080),
};

const serviceSchema = storeSchema.extend({
  // Prosody's component port, as an xmpp:// URL (XEP-0114).
  COMPONENT_SERVICE: z
    .string()
    .regex(/^xmpp:\/\/[^/:]+(:\d+)?\/?$/, "expected xmpp://HOST:PORT, e.g. xmpp://127.0.0.1:5347"),
  // The component's JID, as declared by `Component "…"` in prosody.cfg.lua.
  COMPONENT_DOMAIN: z.string().regex(/^[^\s@/]+$/, "expected a bare domain, e.g. invites.example.com"),
  // The shared secret (`component_secret`); or COMPONENT_SECRET_FILE, a file holding it.
  COMPONENT_SECRET: z.string().min(1).optional(),
  COMPONENT_SECRET_FILE: z.string().min(1).optional(),
  ...httpFields,
  // How long one ad-hoc call to Prosody may take before the client gets 504.
  INVITE_TIMEOUT_MS: intFromEnv(100, 300_000).default(10_000),
  // Reconnect backoff to Prosody: first delay and cap, in milliseconds (jittered, doubling).
  RECONNECT_MIN_MS: intFromEnv(10, 600_000).default(500),
  RECONNECT_MAX_MS: intFromEnv(10, 3_600_000).default(30_000),
  // Rate limit of keys created without --rate, as N/PERIOD (e.g. 60/1m), or "off".
  DEFAULT_KEY_RATE: rateFromEnv.default("60/1m"),
  // Failed key attempts allowed per client address, as N/PERIOD, or "off".
  AUTH_FAILURE_LIMIT: rateFromEnv.default("30/1m"),
  // Lists, shows and revokes of /invites allowed per key, as N/PERIOD, or "off": each page of a
  // list reads every pending invite in Prosody, so a client must not be able to list without end.
  MANAGE_RATE: rateFromEnv.default("60/1m"),
  // The invite page (/invite/HOST/TOKEN): looks at it (the page and its name checks) allowed per
  // client address, and sign-ups through it per client address, as N/PERIOD, or "off". Each look
  // asks Prosody; the sign-up limit keeps a client from registering accounts in bulk.
  INVITE_PAGE_RATE: rateFromEnv.default("60/1m"),
  INVITE_SIGNUP_RATE: rateFromEnv.default("10/10m"),
  // Behind reverse proxies: how many of them append to X-Forwarded-For. "true" is one, "false" (or
  // 0) none; the client address is the entry the outermost trusted proxy appended.
  TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d{1,2})$/, "expected false, true (one proxy) or the number of proxies in front, e.g. 2")
    .default("false"),
  // How often the service reads each host's registration records (accounts per key, the redeemed
  // metric) when Prosody does not tell it of a new one first (mod_invites_manage does, at once).
  REDEMPTION_SYNC_MS: intFromEnv(1_000, 86_400_000).default(60_000),
  // Webhooks: how long one delivery may take; the first retry's delay (doubling, with jitter, up
  // to the maximum); how long after its event a delivery is retried before it is dropped; how long
  // a delivery taken by an instance stays its own (then another may send it: it must exceed the
  // timeout); how often the outbox is looked at; one warning per failing subscription per interval.
  WEBHOOK_TIMEOUT_MS: intFromEnv(100, 120_000).default(10_000),
  WEBHOOK_RETRY_MIN_MS: intFromEnv(10, 3_600_000).default(5_000),
  WEBHOOK_RETRY_MAX_MS: intFromEnv(10, 86_400_000).default(3_600_000),
  WEBHOOK_RETRY_HOURS: intFromEnv(24, 24 * 30).default(24),
  WEBHOOK_LEASE_MS: intFromEnv(200, 3_600_000).default(60_000),
  WEBHOOK_POLL_MS: intFromEnv(50, 600_000).default(1_000),
  WEBHOOK_WARN_INTERVAL_MS: intFromEnv(1_000, 86_400_000).default(900_000),
  // The admin page at /admin/ (a web page for the people who hand out invites; it asks for a key
  // like any client): on, or off to serve no page at all.
  ADMIN_PAGE: z.enum(["on", "off"], { message: "expected on or off" }).default("on"),
  // What signed-in people may do (issue 29), as JSON: per host ("*" for any other), each Prosody
  // role's scopes and quota, and the managers of circles (src/people/policy.ts; docs/operations.md).
  // Unset: host admins manage; members make account invites, 5 per 7 days; guests nothing.
  PEOPLE_POWERS: z.string().optional(),
  // The invite page at /invite/HOST/TOKEN (point Prosody's invites_page at it): where the person
  // who opens an invite link picks an app or signs up: on, or off to serve no page at all.
  INVITE_PAGE: z.enum(["on", "off"], { message: "expected on or off" }).default("on"),
  // On SIGTERM/SIGINT: /ready turns 503 and answers say `Connection: close` at once; the listener
  // stays open this long more, so that a load balancer stops sending first.
  SHUTDOWN_GRACE_MS: intFromEnv(0, 600_000).default(2_000),
  // Then, how long requests in flight may take to finish before they are cut.
  SHUTDOWN_TIMEOUT_MS: intFromEnv(0, 600_000).default(10_000),
  // People signing in (issue 29). The service's address as people's browsers reach it, e.g.
  // https://invites.example.com: sign-in links and OAuth's return address are made from it, never
  // from a request's Host (which a client chooses). Unset: nobody signs in, only keys work. Plain
  // http only on a loopback host (the session cookie is Secure everywhere else).
  PUBLIC_URL: z.string().optional(),
  // A session ends this long after sign-in whatever happens, and after this long unused.
  SESSION_LIFETIME: durationFromEnv(120_000, 30 * 86_400_000, "from 2m to 30d").default("12h"),
  SESSION_IDLE: durationFromEnv(120_000, 30 * 86_400_000, "from 2m to 30d").default("30m"),
  // How long a sign-in link sent as an XMPP message works (once).
  SIGN_IN_LINK_TTL: durationFromEnv(30_000, 3_600_000, "from 30s to 1h").default("5m"),
  // Sign-in links asked for per account, and per client address, as N/PERIOD, or "off".
  SIGN_IN_ACCOUNT_RATE: rateFromEnv.default("3/15m"),
  SIGN_IN_ADDRESS_RATE: rateFromEnv.default("10/15m"),
  // Sign-in through Prosody 13's mod_http_oauth2, per host: JSON host → Prosody's HTTP base, e.g.
  // {"example.com": "https://example.com:5281"} (src/people/oauthConfig.ts). Needs PUBLIC_URL.
  PEOPLE_OAUTH: peopleOAuthFromEnv.optional(),
});

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface StoreConfig {
  readonly keyStore: string;
  readonly logLevel: LogLevel;
}

export interface ServiceConfig extends StoreConfig {
  readonly component: { readonly service: string; readonly domain: string; readonly secret: string };
  readonly http: { readonly host: string; readonly port: number };
  readonly inviteTimeoutMs: number;
  readonly reconnect: { readonly minMs: number; readonly maxMs: number };
  readonly shutdownGraceMs: number;
  readonly shutdownTimeoutMs: number;
  readonly redemptionSyncMs: number;
  /** PEOPLE_POWERS, parsed: each role's powers and quota per host, and who manages which circles. */
  readonly peoplePowers: PeoplePolicy;
  readonly webhooks: {
    readonly timeoutMs: number;
    readonly retry: { readonly minMs: number; readonly maxMs: number };
    readonly windowMs: number;
    readonly leaseMs: number;
    readonly pollMs: number;
    readonly warnEveryMs: number;
  };
  readonly defaultKeyRate: Rate | undefined;
  readonly authFailureLimit: Rate | undefined;
  readonly manageRate: Rate | undefined;
  readonly invitePageRate: Rate | undefined;
  readonly inviteSignupRate: Rate | undefined;
  /** Proxies in front that append to X-Forwarded-For (0: none, the socket's peer is the client). */
  readonly trustedProxies: number;
  /** Whether /admin/ serves the admin page. */
  readonly adminPage: boolean;
  /** PUBLIC_URL without its trailing slash; none: nobody signs in (issue 29). */
  readonly publicUrl: string | undefined;
  readonly sessions: { readonly lifetimeMs: number; readonly idleMs: number };
  /** PEOPLE_OAUTH: host → Prosody's HTTP base; empty: no host signs in through OAuth. */
  readonly peopleOAuth: OAuthProviders;
  readonly signInLink: {
    readonly ttlMs: number;
    readonly accountRate: Rate | undefined;
    readonly addressRate: Rate | undefined;
  };
  /** Whether /invite/HOST/TOKEN serves the invite page. */
  readonly invitePage: boolean;
}

type Env = Record<string, string | undefined>;

function parse<T extends z.ZodType>(schema: T, env: Env): z.infer<T> {
  // An empty variable counts as unset, as shells and compose files often leave them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const variable = issue.path.join(".");
    const got = present[variable];
    const reason = got === undefined ? "is required" : issue.message;
    return `${variable} ${reason}`;
  });
  throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
}

/** What the key commands of the CLI need: the store, nothing of XMPP. */
export function loadStoreConfig(env: Env): StoreConfig {
  const raw = parse(storeSchema, env);
  return Object.freeze({ keyStore: raw.KEY_STORE, logLevel: raw.LOG_LEVEL });
}

/**
 * Where the running service answers, for a CLI command that goes through it (`budget`): its
 * HTTP_HOST and HTTP_PORT, with a wildcard address read as loopback.
 */
export function loadServiceUrl(env: Env): string {
  const raw = parse(storeSchema.extend(httpFields), env);
  const host = raw.HTTP_HOST === "0.0.0.0" ? "127.0.0.1" : raw.HTTP_HOST === "::" ? "::1" : raw.HTTP_HOST;
  return `http://${host.includes(":") ? `[${host}]` : host}:${raw.HTTP_PORT}`;
}

export function loadServiceConfig(env: Env): ServiceConfig {
  const raw = parse(serviceSchema, env);
  if (raw.RECONNECT_MAX_MS < raw.RECONNECT_MIN_MS) {
    throw new ConfigError("invalid configuration: RECONNECT_MAX_MS must be at least RECONNECT_MIN_MS");
  }
  if (raw.WEBHOOK_RETRY_MAX_MS < raw.WEBHOOK_RETRY_MIN_MS) {
    throw new ConfigError("invalid configuration: WEBHOOK_RETRY_MAX_MS must be at least WEBHOOK_RETRY_MIN_MS");
  }
  if (raw.WEBHOOK_LEASE_MS <= raw.WEBHOOK_TIMEOUT_MS) {
    throw new ConfigError("invalid configuration: WEBHOOK_LEASE_MS must be longer than WEBHOOK_TIMEOUT_MS");
  }
  const sessionLifetimeMs = parseDuration(raw.SESSION_LIFETIME) ?? 0;
  const sessionIdleMs = parseDuration(raw.SESSION_IDLE) ?? 0;
  if (sessionIdleMs > sessionLifetimeMs) {
    throw new ConfigError("invalid configuration: SESSION_IDLE must be at most SESSION_LIFETIME");
  }
  if (raw.PEOPLE_OAUTH && !raw.PUBLIC_URL) {
    throw new ConfigError("invalid configuration: PEOPLE_OAUTH needs PUBLIC_URL (where Prosody sends people back)");
  }
  return Object.freeze({
    keyStore: raw.KEY_STORE,
    logLevel: raw.LOG_LEVEL,
    component: Object.freeze({
      service: raw.COMPONENT_SERVICE,
      domain: raw.COMPONENT_DOMAIN,
      secret: readSecret(raw.COMPONENT_SECRET, raw.COMPONENT_SECRET_FILE),
    }),
    http: Object.freeze({ host: raw.HTTP_HOST, port: raw.HTTP_PORT }),
    inviteTimeoutMs: raw.INVITE_TIMEOUT_MS,
    reconnect: Object.freeze({ minMs: raw.RECONNECT_MIN_MS, maxMs: raw.RECONNECT_MAX_MS }),
    shutdownGraceMs: raw.SHUTDOWN_GRACE_MS,
    shutdownTimeoutMs: raw.SHUTDOWN_TIMEOUT_MS,
    redemptionSyncMs: raw.REDEMPTION_SYNC_MS,
    peoplePowers: peoplePowers(raw.PEOPLE_POWERS),
    webhooks: Object.freeze({
      timeoutMs: raw.WEBHOOK_TIMEOUT_MS,
      retry: Object.freeze({ minMs: raw.WEBHOOK_RETRY_MIN_MS, maxMs: raw.WEBHOOK_RETRY_MAX_MS }),
      windowMs: raw.WEBHOOK_RETRY_HOURS * 3_600_000,
      leaseMs: raw.WEBHOOK_LEASE_MS,
      pollMs: raw.WEBHOOK_POLL_MS,
      warnEveryMs: raw.WEBHOOK_WARN_INTERVAL_MS,
    }),
    defaultKeyRate: raw.DEFAULT_KEY_RATE === "off" ? undefined : parseRate(raw.DEFAULT_KEY_RATE),
    authFailureLimit: raw.AUTH_FAILURE_LIMIT === "off" ? undefined : parseRate(raw.AUTH_FAILURE_LIMIT),
    manageRate: raw.MANAGE_RATE === "off" ? undefined : parseRate(raw.MANAGE_RATE),
    invitePageRate: raw.INVITE_PAGE_RATE === "off" ? undefined : parseRate(raw.INVITE_PAGE_RATE),
    inviteSignupRate: raw.INVITE_SIGNUP_RATE === "off" ? undefined : parseRate(raw.INVITE_SIGNUP_RATE),
    trustedProxies: trustedProxies(raw.TRUST_PROXY),
    adminPage: raw.ADMIN_PAGE === "on",
    invitePage: raw.INVITE_PAGE === "on",
    publicUrl: publicUrl(raw.PUBLIC_URL),
    peopleOAuth: raw.PEOPLE_OAUTH ?? Object.freeze({}),
    sessions: Object.freeze({ lifetimeMs: sessionLifetimeMs, idleMs: sessionIdleMs }),
    signInLink: Object.freeze({
      ttlMs: parseDuration(raw.SIGN_IN_LINK_TTL) ?? 0,
      accountRate: raw.SIGN_IN_ACCOUNT_RATE === "off" ? undefined : parseRate(raw.SIGN_IN_ACCOUNT_RATE),
      addressRate: raw.SIGN_IN_ADDRESS_RATE === "off" ? undefined : parseRate(raw.SIGN_IN_ADDRESS_RATE),
    }),
  });
}

/** The hosts on which a browser takes plain http as a secure context, and a cookie without Secure is no risk. */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(["127.0.0.1", "[::1]", "localhost"]);

/**
 * PUBLIC_URL: an http(s) origin, optionally with a path, without credentials, query or fragment;
 * http only on a loopback host: elsewhere the session cookie would travel in clear.
 */
function publicUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const fail = (why: string) => new ConfigError(`invalid configuration: PUBLIC_URL ${why}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw fail("is not a URL: expected e.g. https://invites.example.com");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw fail("must start with https://");
  if (url.username || url.password || url.search || url.hash || value.includes("?") || value.includes("#")) {
    throw fail("must have no user, query or fragment");
  }
  if (url.protocol === "http:" && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw fail("must be https:// (plain http only on 127.0.0.1, [::1] or localhost)");
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

function peoplePowers(text: string | undefined): PeoplePolicy {
  try {
    return parsePeoplePolicy(text);
  } catch (err) {
    if (err instanceof PolicyError) throw new ConfigError(`invalid configuration: ${err.message}`);
    throw err;
  }
}

function trustedProxies(value: string): number {
  if (value === "true") return 1;
  if (value === "false") return 0;
  return Number(value);
}

function readSecret(inline: string | undefined, file: string | undefined): string {
  if (inline && file) {
    throw new ConfigError("invalid configuration: set COMPONENT_SECRET or COMPONENT_SECRET_FILE, not both");
  }
  if (inline) return inline;
  if (!file) {
    throw new ConfigError("invalid configuration: COMPONENT_SECRET or COMPONENT_SECRET_FILE is required");
  }
  let secret: string;
  try {
    secret = readFileSync(file, "utf8").trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(`invalid configuration: COMPONENT_SECRET_FILE cannot be read (${code})`);
  }
  if (!secret) throw new ConfigError("invalid configuration: COMPONENT_SECRET_FILE is empty");
  return secret;
}
