import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type Router from "@koa/router";
import type { Context } from "koa";
import { AppError } from "../errors.js";
import type { Logger } from "../log.js";
import { createOAuthClients, OAuthFailure, type RegisteredClient } from "./oauthClient.js";
import type { OAuthProviders } from "./oauthConfig.js";
import { sameOriginPath } from "./oauthNext.js";
import type { OneTimeStore } from "./types.js";

/** Part C's: makes the session and sets its cookie on `ctx` (src/people/sessions.ts). */
export type StartSession = (
  ctx: Context,
  who: { readonly jid: string; readonly host: string; readonly via: "oauth" },
) => Promise<unknown>;

export interface OAuthRouteDeps {
  /** PUBLIC_URL (no trailing slash). */
  readonly publicUrl: string;
  /** PEOPLE_OAUTH. */
  readonly providers: OAuthProviders;
  /** Where each sign-in's state waits for its callback, once (ServiceStore.oneTime). */
  readonly oneTime: OneTimeStore;
  readonly startSession: StartSession;
  /**
   * Whether the account may do anything here (it exists, is enabled, and its role grants
   * something); none: anyone Prosody vouches for gets a session (which the session gate then checks).
   */
  readonly mayAct?: (jid: string, host: string) => Promise<boolean>;
  /**
   * Counts a sign-in started against the client's address (SIGN_IN_ADDRESS_RATE, with the links),
   * throwing `sign_in_limited` past it: each start keeps a state in the store for minutes, so
   * starts must not be free. None: not counted (tests).
   */
  readonly countStart?: (ctx: Context) => Promise<void>;
  readonly log: Logger;
  /** Tests: Prosody's answers without Prosody. */
  readonly fetch?: typeof fetch;
}

/** What the callback needs of the start, kept under the state's hash until then. */
interface Pending {
  readonly host: string;
  /** SHA-256 of the nonce cookie of the browser that started (login CSRF: no other browser may finish). */
  readonly browser: string;
  readonly codeVerifier: string;
  readonly nonce: string;
  readonly next: string | undefined;
  /** This instance's registration: another instance may take the callback. */
  readonly client: RegisteredClient;
}

// Prosody's codes and its login form's token last 10 minutes.
const PENDING_MS = 600_000;
const random = (bytes: number) => randomBytes(bytes).toString("base64url");
const sha256 = (text: string) => createHash("sha256").update(text).digest("base64url");
const pendingId = (state: string) => `oauth:${sha256(state)}`;
// A cookie this service minted: 32 random bytes, base64url.
const NONCE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Sign-in through Prosody 13's mod_http_oauth2: GET /session/oauth?host=H&next=PATH sends the
 * browser to the host's own login and consent pages; GET /session/oauth/callback comes back with a
 * code, which becomes a session for the account Prosody vouches for. The password never reaches
 * the service. Every failure ends at /admin/#sign-in-error=CODE. Without `deps` (PUBLIC_URL unset)
 * both answer 501 sign_in_unavailable.
 */
export function mountOAuthRoutes(router: Router, deps: OAuthRouteDeps | undefined): void {
  const paths = ["/session/oauth", "/session/oauth/callback"];
  router.all(paths, async (ctx, next) => {
    if (ctx.method !== "GET" && ctx.method !== "HEAD") {
      ctx.set("Allow", "GET");
      ctx.throw(405);
    }
    if (!deps) throw new AppError("sign_in_unavailable", "PUBLIC_URL is not set");
    await next();
  });
  if (!deps) return;
  const { publicUrl, log, oneTime, startSession, mayAct } = deps;
  const secure = publicUrl.startsWith("https:");
  // __Host-: Secure, Path=/, no Domain, so no other host (a sibling subdomain) can set it. Lax, not
  // Strict: the callback is a navigation from Prosody's site, which must carry it.
  const cookieName = secure ? "__Host-invites_oauth" : "invites_oauth";
  const clients = createOAuthClients({
    providers: deps.providers,
    redirectUri: `${publicUrl}/session/oauth/callback`,
    // Prosody wants an https page, not on loopback, for its consent page's "Website".
    clientUri: secure ? `${publicUrl}/` : "https://invites-api.invalid/",
    log: deps.log,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });

  function setNonceCookie(ctx: Context, value: string, maxAgeS: number): void {
    const attributes = [`Path=/`, `Max-Age=${maxAgeS}`, "HttpOnly", "SameSite=Lax", ...(secure ? ["Secure"] : [])];
    ctx.append("Set-Cookie", `${cookieName}=${value}; ${attributes.join("; ")}`);
  }

  function refuse(ctx: Context, err: unknown, host: string | undefined): void {
    const failure = err instanceof OAuthFailure ? err : undefined;
    const code = failure?.code ?? (err instanceof AppError ? err.code : "internal");
    const level = failure?.code === "oauth_unavailable" || code === "internal" ? "warn" : "info";
    const reason = failure?.reason ?? (err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    log[level]({ code, host, reason }, "OAuth sign-in refused");
    ctx.redirect(`${publicUrl}/admin/#sign-in-error=${code}`);
  }

  const noStore = (ctx: Context) => {
    ctx.set("Cache-Control", "no-store");
    ctx.set("Referrer-Policy", "no-referrer");
  };

  router.get("/session/oauth", async (ctx) => {
    noStore(ctx);
    const host = typeof ctx.query.host === "string" ? ctx.query.host.toLowerCase() : "";
    try {
      await deps.countStart?.(ctx);
      const { metadata, client } = await clients.provider(host);
      const state = random(32);
      const codeVerifier = random(32);
      const nonce = random(16);
      // One nonce per browser (kept, not cleared at a callback): sign-ins started in two tabs both finish.
      const held = ctx.cookies.get(cookieName);
      const browserNonce = held && NONCE.test(held) ? held : random(32);
      const pending: Pending = {
        host,
        browser: sha256(browserNonce),
        codeVerifier,
        nonce,
        next: sameOriginPath(ctx.query.next),
        client,
      };
      await oneTime.put(pendingId(state), JSON.stringify(pending), PENDING_MS);
      setNonceCookie(ctx, browserNonce, PENDING_MS / 1000);
      ctx.redirect(clients.authorizeUrl(metadata, client, { state, codeChallenge: sha256(codeVerifier), nonce }));
    } catch (err) {
      refuse(ctx, err, host || undefined);
    }
  });

  router.get("/session/oauth/callback", async (ctx) => {
    noStore(ctx);
    const param = (name: string) => (typeof ctx.query[name] === "string" ? (ctx.query[name] as string) : undefined);
    let host: string | undefined;
    try {
      const state = param("state");
      const kept = state ? await oneTime.take(pendingId(state)) : undefined;
      if (!kept) throw new OAuthFailure("state_invalid", "unknown, expired or used state");
      const pending = JSON.parse(kept) as Pending;
      host = pending.host;
      const held = ctx.cookies.get(cookieName) ?? "";
      const browser = Buffer.from(sha256(held));
      if (!held || !timingSafeEqual(browser, Buffer.from(pending.browser))) {
        throw new OAuthFailure("state_mismatch", held ? "another browser's nonce cookie" : "no nonce cookie");
      }
      const error = param("error");
      if (error !== undefined) {
        throw new OAuthFailure(error === "access_denied" ? "access_denied" : "oauth_refused", `Prosody said ${error}`);
      }
      const code = param("code");
      if (!code) throw new OAuthFailure("oauth_refused", "no code");
      const jid = await clients.identify(pending.host, {
        client: pending.client,
        code,
        codeVerifier: pending.codeVerifier,
        nonce: pending.nonce,
        iss: param("iss"),
      });
      if (jid.slice(jid.lastIndexOf("@") + 1) !== pending.host) {
        throw new OAuthFailure("wrong_host", `Prosody vouched for an account of another host`);
      }
      if (mayAct && !(await mayAct(jid, pending.host))) {
        throw new OAuthFailure("not_allowed", "the account's role gives it nothing here");
      }
      await startSession(ctx, { jid, host: pending.host, via: "oauth" });
      ctx.redirect(pending.next ?? `${publicUrl}/admin/`);
    } catch (err) {
      refuse(ctx, err, host);
    }
  });
}
