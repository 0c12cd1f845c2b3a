import type { Logger } from "../log.js";
import type { OAuthProviders } from "./oauthConfig.js";
import { IdTokenError, verifyIdToken } from "./oauthIdToken.js";

// OAuth 2.0 (RFC 6749) authorization code grant with PKCE (RFC 7636) against Prosody 13's
// mod_http_oauth2, as a confidential client registered dynamically (RFC 7591), reading the
// server's metadata (RFC 8414), the issuer in the redirect (RFC 9207), the ID token (OpenID
// Connect Core 3.1.3.7) and revoking what it was given (RFC 7009).

/** Why a sign-in through OAuth failed: `code` goes into /admin/#sign-in-error=CODE; `reason` only to the log. */
export class OAuthFailure extends Error {
  override readonly name = "OAuthFailure";
  constructor(
    readonly code: OAuthFailureCode,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export type OAuthFailureCode =
  | "unknown_host" // the host is not in PEOPLE_OAUTH
  | "oauth_unavailable" // Prosody's OAuth could not be reached, or is not set up for this (no registration)
  | "oauth_refused" // Prosody refused the code, or its answer did not check out
  | "access_denied" // the person said no on Prosody's page
  | "state_invalid" // an unknown, expired or already used state (a replayed callback)
  | "state_mismatch" // the state was not started in this browser (no or another nonce cookie)
  | "wrong_host" // Prosody vouched for an account of another host
  | "not_allowed"; // the account may do nothing here (its role grants nothing, PEOPLE_POWERS)

/** What the service is, to Prosody: the registration it gets at first use, per host. */
export interface RegisteredClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

interface Metadata {
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly registrationEndpoint: string;
  readonly revocationEndpoint?: string;
  readonly issInRedirect: boolean;
}

interface Provider {
  readonly metadata: Metadata;
  readonly client: RegisteredClient;
  /** Unix ms after which the registration is made again. */
  readonly expiresAt: number;
}

export interface OAuthClientsDeps {
  readonly providers: OAuthProviders;
  /** PUBLIC_URL + "/session/oauth/callback". */
  readonly redirectUri: string;
  /** An https page about the client, which Prosody shows on its consent page. */
  readonly clientUri: string;
  readonly log: Logger;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  /** Each request to Prosody; 10 s by default. */
  readonly timeoutMs?: number;
}

export interface OAuthClients {
  /** The host's metadata and this instance's registration there, made at first use. */
  provider(host: string): Promise<{ metadata: Metadata; client: RegisteredClient }>;
  /** Where the person's browser goes: Prosody's own authorization endpoint, as it advertises it. */
  authorizeUrl(metadata: Metadata, client: RegisteredClient, params: AuthorizeParams): string;
  /**
   * Exchanges the code and returns the bare JID the ID token names; the tokens Prosody gave are
   * revoked (the service needs none: only who signed in). Throws OAuthFailure.
   */
  identify(host: string, exchange: CodeExchange): Promise<string>;
}

export interface AuthorizeParams {
  readonly state: string;
  readonly codeChallenge: string;
  readonly nonce: string;
}

export interface CodeExchange {
  readonly client: RegisteredClient;
  readonly code: string;
  readonly codeVerifier: string;
  readonly nonce: string;
  /** The `iss` parameter of the redirect, when Prosody sent one. */
  readonly iss: string | undefined;
}

// Only the identity: no "xmpp" scope, so the tokens carry no role to act with.
const SCOPE = "openid";
// A registration whose secret expires (oauth2_registration_ttl) is made again this long before.
const RENEW_EARLY_MS = 60_000;
// And at least this often (with the metadata read again): a client id Prosody no longer takes (a
// new oauth2_registration_key) or a new http_external_url heals within the hour, without a restart.
const REGISTRATION_MAX_AGE_MS = 3_600_000;

export function createOAuthClients(deps: OAuthClientsDeps): OAuthClients {
  const fetcher = deps.fetch ?? globalThis.fetch;
  const now = deps.now ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const cached = new Map<string, Promise<Provider>>();

  function baseOf(host: string): string {
    const base = Object.hasOwn(deps.providers, host) ? deps.providers[host] : undefined;
    if (base === undefined) throw new OAuthFailure("unknown_host", `${host} is not in PEOPLE_OAUTH`);
    return base;
  }

  /** The back channel goes to PEOPLE_OAUTH's address, which may be internal, at the endpoint's path. */
  function backChannel(host: string, metadata: Metadata, endpoint: string): string {
    return endpoint.startsWith(`${metadata.issuer}/`)
      ? baseOf(host) + endpoint.slice(metadata.issuer.length)
      : endpoint;
  }

  async function call(url: string, init: RequestInit, what: string): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await fetcher(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new OAuthFailure("oauth_unavailable", `${what}: ${(err as Error).name}: ${(err as Error).message}`);
    }
    const text = await res.text().catch(() => "");
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json };
  }

  async function discover(host: string): Promise<Metadata> {
    const { status, json } = await call(
      `${baseOf(host)}/.well-known/oauth-authorization-server`,
      { headers: { Accept: "application/json" } },
      "metadata",
    );
    const m = (json ?? {}) as Record<string, unknown>;
    const text = (name: string) => (typeof m[name] === "string" ? (m[name] as string) : undefined);
    const issuer = text("issuer");
    const authorizationEndpoint = text("authorization_endpoint");
    const tokenEndpoint = text("token_endpoint");
    const registrationEndpoint = text("registration_endpoint");
    if (status !== 200 || !issuer || !authorizationEndpoint || !tokenEndpoint) {
      throw new OAuthFailure(
        "oauth_unavailable",
        `metadata: ${status}, not mod_http_oauth2's (is it loaded on ${host}?)`,
      );
    }
    if (!registrationEndpoint) {
      throw new OAuthFailure(
        "oauth_unavailable",
        `metadata: no registration endpoint (set oauth2_registration_key on ${host})`,
      );
    }
    const methods = m.code_challenge_methods_supported;
    if (Array.isArray(methods) && !methods.includes("S256")) {
      throw new OAuthFailure("oauth_unavailable", "metadata: S256 is not among the code challenge methods");
    }
    const revocationEndpoint = text("revocation_endpoint");
    return {
      issuer,
      authorizationEndpoint,
      tokenEndpoint,
      registrationEndpoint,
      ...(revocationEndpoint ? { revocationEndpoint } : {}),
      issInRedirect: m.authorization_response_iss_parameter_supported === true,
    };
  }

  async function register(host: string): Promise<Provider> {
    const metadata = await discover(host);
    const redirect = new URL(deps.redirectUri);
    const { status, json } = await call(
      backChannel(host, metadata, metadata.registrationEndpoint),
      {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({
          client_name: `Invites (${redirect.host})`,
          client_uri: deps.clientUri,
          redirect_uris: [deps.redirectUri],
          grant_types: ["authorization_code"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_basic",
          scope: SCOPE,
        }),
      },
      "registration",
    );
    const r = (json ?? {}) as Record<string, unknown>;
    if (status !== 201 || typeof r.client_id !== "string" || typeof r.client_secret !== "string") {
      const error = typeof r.error === "string" ? ` ${r.error}: ${String(r.error_description ?? "")}` : "";
      throw new OAuthFailure("oauth_unavailable", `registration: ${status}${error}`);
    }
    const expires = typeof r.client_secret_expires_at === "number" ? r.client_secret_expires_at : 0;
    deps.log.info({ host }, "registered with Prosody's OAuth");
    return {
      metadata,
      client: { clientId: r.client_id, clientSecret: r.client_secret },
      expiresAt: Math.min(now() + REGISTRATION_MAX_AGE_MS, expires > 0 ? expires * 1000 - RENEW_EARLY_MS : Infinity),
    };
  }

  function startRegistration(host: string): Promise<Provider> {
    const made = register(host);
    cached.set(host, made);
    // A failure is not kept: the next sign-in tries again.
    made.catch(() => {
      if (cached.get(host) === made) cached.delete(host);
    });
    return made;
  }

  async function provider(host: string): Promise<Provider> {
    baseOf(host);
    const known = cached.get(host);
    if (known) {
      const value = await known.catch(() => undefined);
      if (value && value.expiresAt > now()) return value;
      if (cached.get(host) === known) cached.delete(host);
    }
    // Another request may have started a fresh registration meanwhile.
    return cached.get(host) ?? startRegistration(host);
  }

  const basic = (client: RegisteredClient) =>
    // RFC 6749, 2.3.1: each part form-urlencoded before base64 (Prosody decodes them so).
    `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString("base64")}`;

  async function revoke(host: string, metadata: Metadata, client: RegisteredClient, token: unknown): Promise<void> {
    if (!metadata.revocationEndpoint || typeof token !== "string") return;
    const { status } = await call(
      backChannel(host, metadata, metadata.revocationEndpoint),
      {
        method: "POST",
        headers: { Authorization: basic(client), "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token }).toString(),
      },
      "revocation",
    ).catch((err: unknown) => ({ status: err instanceof OAuthFailure ? err.reason : String(err) }));
    if (status !== 200) deps.log.warn({ host, status }, "Prosody did not revoke a token it gave at sign-in");
  }

  return {
    async provider(host) {
      const { metadata, client } = await provider(host);
      return { metadata, client };
    },

    authorizeUrl(metadata, client, params) {
      const url = new URL(metadata.authorizationEndpoint);
      url.search = new URLSearchParams({
        response_type: "code",
        client_id: client.clientId,
        redirect_uri: deps.redirectUri,
        scope: SCOPE,
        state: params.state,
        code_challenge: params.codeChallenge,
        code_challenge_method: "S256",
        nonce: params.nonce,
      }).toString();
      return url.toString();
    },

    async identify(host, exchange) {
      // The metadata of this instance; the client may be another instance's (the state carries it).
      const { metadata } = await provider(host);
      if (exchange.iss !== undefined ? exchange.iss !== metadata.issuer : metadata.issInRedirect) {
        throw new OAuthFailure("oauth_refused", "the redirect's iss is not the host's issuer");
      }
      const { status, json } = await call(
        backChannel(host, metadata, metadata.tokenEndpoint),
        {
          method: "POST",
          headers: {
            Authorization: basic(exchange.client),
            "Content-Type": "application/x-www-form-urlencoded",
            Accept: "application/json",
          },
          body: new URLSearchParams({
            grant_type: "authorization_code",
            code: exchange.code,
            redirect_uri: deps.redirectUri,
            code_verifier: exchange.codeVerifier,
          }).toString(),
        },
        "token",
      );
      const t = (json ?? {}) as Record<string, unknown>;
      if (status !== 200) {
        throw new OAuthFailure("oauth_refused", `token: ${status} ${typeof t.error === "string" ? t.error : ""}`);
      }
      try {
        if (typeof t.id_token !== "string") throw new OAuthFailure("oauth_refused", "token: no id_token");
        return verifyIdToken(t.id_token, {
          secret: exchange.client.clientSecret,
          issuer: metadata.issuer,
          clientId: exchange.client.clientId,
          nonce: exchange.nonce,
          now: Math.floor(now() / 1000),
        });
      } catch (err) {
        if (err instanceof IdTokenError) throw new OAuthFailure("oauth_refused", `id_token: ${err.message}`);
        throw err;
      } finally {
        // One after the other: both are in one grant, which Prosody reads and writes whole.
        await revoke(host, metadata, exchange.client, t.access_token);
        await revoke(host, metadata, exchange.client, t.refresh_token);
      }
    },
  };
}
