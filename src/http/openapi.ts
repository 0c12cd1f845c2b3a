import { componentSchemas, queryParameters } from "./wire/jsonSchema.js";
import { dropInQuery, pageQuery } from "./wire/requests.js";

/**
 * The OpenAPI 3.1 description of the HTTP API, served at /openapi.json. Its operations and statuses
 * are written here; every shape and limit comes from the zod schemas the routes use (wire/).
 * test/e2e/openapi.prosody.test.ts produces every status documented here against the real service
 * and validates each answer; test/unit/openapiRequests.test.ts sends requests at each limit's edge
 * to the service and to this document; test/unit/openapiLint.test.ts holds it to Redocly's
 * recommended ruleset.
 */
const error = (description: string, headers?: Record<string, unknown>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: {
    "text/plain": { schema: { type: "string" } },
    "application/json": { schema: { $ref: "#/components/schemas/Error" } },
  },
});

const retryAfter = {
  "Retry-After": { description: "Seconds to wait before trying again", schema: { type: "integer", minimum: 1 } },
};

// Node's HTTP parser answers it before any route, whatever the method or path.
const headersTooLarge = {
  "431": { description: "URL or headers larger than 16 KiB (answered by Node's HTTP parser, no body)" },
};

const location = {
  Location: {
    description: "The invite link: the landing page, or the xmpp: URI",
    required: true,
    schema: { type: "string" },
  },
};

const inviteResponses = {
  "201": {
    description: "An invite was created. Empty body unless JSON is asked for.",
    headers: location,
    content: {
      "text/plain": { schema: { type: "string", maxLength: 0 } },
      "application/json": { schema: { $ref: "#/components/schemas/Invite" } },
    },
  },
  "303": {
    description: "An invite was created; the request had a `redirect` parameter, so go there.",
    headers: location,
  },

  "400": error("Malformed request (a parameter given twice, a bad type, username or ttl)"),
  "403": error("Missing, malformed, unknown, wrong or deleted key; or the key has expired or used its max-invites"),
  "405": error("The key does not allow this method, or the method is not GET/POST"),
  "429": error("Over the key's rate, or too many failed key attempts from this address", retryAfter),
  ...headersTooLarge,
  "502": error("Prosody refused the command or sent an unreadable answer (the log says what to fix)"),
  "503": error("Not connected to Prosody, or the key store failed", retryAfter),
  "504": error("Prosody did not answer within INVITE_TIMEOUT_MS"),
  "501": error(
    "A ttl (or a key with --max-ttl) where the host lacks mod_invites_manage; type=reset where it has neither that nor Prosody 13",
  ),
};

const idempotencyKey = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "Any unique value, 1 to 255 visible ASCII characters: a retry with the same key, API key, route and body within 24 h gets the first answer again (Idempotent-Replayed: true) and creates nothing",
  schema: { type: "string", minLength: 1, maxLength: 257 },
};

const replayed = {
  "Idempotent-Replayed": {
    description: "true: this is the answer of an earlier request with the same Idempotency-Key",
    schema: { type: "string", enum: ["true"] },
  },
};

const inviteParameters = queryParameters(dropInQuery);

// The /invites resource (mod_http_admin_api's shape); each answer is JSON.
const jsonError = (description: string, headers?: Record<string, unknown>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

const resourceErrors = {
  "401": jsonError(
    "A session cookie (no key) whose session has ended: signed out, idle, past its lifetime, or the account gone or without powers (not_signed_in)",
  ),
  "403": jsonError(
    "Missing, malformed, unknown, wrong, deleted or expired key; the key's scopes (or the person's role) do not allow this (insufficient_scope); the account is above invites_manage_roles (account_protected); or, with a session, a change without its X-CSRF-Token or from another site (csrf_refused)",
  ),
  "429": jsonError(
    "Too many failed key attempts from this address; creating: over the key's rate, or past a person's quota (quota_exhausted, with next_at); listing, showing, revoking: over MANAGE_RATE",
    retryAfter,
  ),
  "501": jsonError("The key's host does not load mod_invites_manage; the message says what to load where"),
  "502": jsonError("Prosody refused the command (e.g. the component is not in invites_manage_jids; the log says)"),
  "503": jsonError("Not connected to Prosody, or the key store failed", retryAfter),
  "504": jsonError("Prosody did not answer within INVITE_TIMEOUT_MS"),
};

const invitesRecord = { "application/json": { schema: { $ref: "#/components/schemas/InviteRecord" } } };

const idempotencyConflict = {
  "409": jsonError(
    "An Idempotency-Key used before with another body (idempotency_key_reused), or whose first request still runs after 20 s (idempotency_in_progress, with Retry-After)",
  ),
};

const creating = (operationId: string, summary: string, body: string, extra: Record<string, unknown> = {}) => ({
  post: {
    operationId,
    summary,
    parameters: [idempotencyKey],
    requestBody: { required: false, content: { "application/json": { schema: { $ref: body } } } },
    responses: {
      "201": {
        description: "The invite was created (or, with a replayed Idempotency-Key, was created by the first request)",
        headers: {
          Location: { description: "/invites/{id}", required: true, schema: { type: "string" } },
          ...replayed,
        },
        content: invitesRecord,
      },
      "400": jsonError(
        "Invalid JSON, an unknown or invalid field, a ttl above the key's --max-ttl, or one Prosody refused",
      ),
      "413": { description: "A body over 16 KiB" },
      "415": jsonError("A body that is not application/json"),
      ...idempotencyConflict,
      ...extra,
      ...resourceErrors,
    },
  },
});

const idParameter = [{ name: "id", in: "path", required: true, schema: { type: "string" } }];
const notFound = { "404": jsonError("No pending invite with this id on the key's host") };

// The session API (issue 29): people signed in as their XMPP account. Errors are JSON when asked
// for (Accept), else a line of text, as for /invites_api. Without PUBLIC_URL every route but
// /session/methods answers 501.
const noStore = {
  "Cache-Control": { description: "no-store: the answers carry the session's CSRF token", schema: { type: "string" } },
};
const signInUnavailable = {
  "501": error("Signing in is not set up here: PUBLIC_URL is not set (sign_in_unavailable)"),
};
const sessionJson = { "application/json": { schema: { $ref: "#/components/schemas/Session" } } };
const setCookie = {
  "Set-Cookie": {
    description:
      "__Host-invites_session=ID; Max-Age=SESSION_LIFETIME; Path=/; HttpOnly; SameSite=Strict; Secure (invites_session without Secure when PUBLIC_URL is http on loopback)",
    required: true,
    schema: { type: "string" },
  },
};
const signedIn = [{ sessionCookie: [] }];
/** The drop-in's routes: a key, never a cookie (a GET there makes an invite). */
const keysOnly = [{ bearer: [] }, { queryKey: [] }];
const csrfHeader = {
  name: "X-CSRF-Token",
  in: "header",
  required: true,
  description: "The session's csrf (GET /session): every change made with a session cookie needs it",
  schema: { type: "string" },
};
const crossSite = {
  "403": error(
    "A change from another site: no X-CSRF-Token of the session, or Origin / Sec-Fetch-Site not this site's (csrf_refused)",
  ),
};
const notSignedIn = {
  "401": error("No session, or it has ended: signed out, idle, past its lifetime, the account gone (not_signed_in)"),
};
const sessionBody = (ref: string) => ({
  required: true,
  content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const badSessionBody = {
  "400": error("Invalid JSON, an unknown field, or a field not of its shape (the message names it)"),
  "415": error("A body that is not application/json"),
};
const oauthRedirect = (description: string) => ({
  "302": {
    description,
    headers: { Location: { description: "Where the browser goes next", required: true, schema: { type: "string" } } },
  },
});

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "invites-api",
    version: "1",
    description:
      "Creates Prosody invites: a drop-in for mod_invites_api's /invites_api, and an /invites resource shaped like mod_http_admin_api's.",
    license: { name: "MIT", identifier: "MIT" },
  },
  // Relative: the service answers at the root of wherever this document was fetched from (its
  // Location and Link headers are root paths too).
  servers: [{ url: "/", description: "This service: the origin that served this document" }],
  // A key, or a person's session (its cookie, with X-CSRF-Token on changes); /invites_api: keys only.
  security: [{ bearer: [] }, { queryKey: [] }, { sessionCookie: [] }],
  paths: {
    "/invites_api": {
      get: {
        operationId: "issueInviteByGet",
        summary: "Create an account invite",
        security: keysOnly,
        parameters: inviteParameters,
        responses: inviteResponses,
      },
      post: {
        operationId: "issueInviteByPost",
        security: keysOnly,
        summary: "Create an account invite, or a password-reset invite with type=reset",
        parameters: [...inviteParameters, idempotencyKey],
        responses: {
          ...inviteResponses,
          "409": error(
            "An Idempotency-Key used before with other parameters (idempotency_key_reused), or whose first request still runs after 20 s (idempotency_in_progress, with Retry-After)",
          ),
        },
      },
      options: {
        operationId: "preflightInvitesApi",
        summary: "CORS preflight, answered without a key",
        security: [],
        responses: { "204": { description: "Preflight accepted" }, ...headersTooLarge },
      },
    },
    "/invites/account": creating(
      "createAccountInvite",
      "Create an account invite",
      "#/components/schemas/AccountInviteRequest",
      {
        "409": jsonError(
          "The username is taken (user_exists); or an Idempotency-Key used before with another body (idempotency_key_reused), or whose first request still runs (idempotency_in_progress, with Retry-After)",
        ),
      },
    ),
    "/invites/group": creating(
      "createGroupInvite",
      "Create a reusable invite into groups",
      "#/components/schemas/GroupInviteRequest",
    ),
    "/invites/reset": creating(
      "createResetInvite",
      "Create a password-reset invite",
      "#/components/schemas/ResetInviteRequest",
      { "404": jsonError("The host has no such account") },
    ),
    "/invites/batch": {
      post: {
        operationId: "createInviteBatch",
        summary:
          "Create up to 1,000 invites of any kinds at once, each with an optional ref (each kind's scope; one point of the key's rate per invite)",
        parameters: [idempotencyKey],
        requestBody: {
          required: true,
          content: { "application/json": { schema: { $ref: "#/components/schemas/BatchRequest" } } },
        },
        responses: {
          "201": {
            description: "Every invite was created, in the order asked",
            headers: replayed,
            content: { "application/json": { schema: { $ref: "#/components/schemas/BatchAnswer" } } },
          },
          "207": {
            description:
              "Some invites were not created: each entry has the status and error its own route would have answered",
            headers: replayed,
            content: { "application/json": { schema: { $ref: "#/components/schemas/BatchAnswer" } } },
          },
          "400": jsonError(
            "Invalid JSON, an unknown or invalid field (named as invites[N].FIELD), a ttl above the key's --max-ttl, or more invites than the key's rate ever allows at once; nothing was created",
          ),
          "413": { description: "A body over 2 MiB" },
          "415": jsonError("A body that is not application/json"),
          ...idempotencyConflict,
          ...resourceErrors,
        },
      },
    },
    "/budget": {
      get: {
        operationId: "getBudget",
        summary: "The key's host's registration budget and pause, as Prosody enforces them (scope manage)",
        responses: {
          "200": {
            description: "The budget",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Budget" } } },
          },
          ...resourceErrors,
        },
      },
      patch: {
        operationId: "changeBudget",
        summary:
          "Set or remove the host's registration budget, pause or resume its registrations (scope manage); absent fields stay",
        requestBody: {
          required: true,
          content: { "application/json": { schema: { $ref: "#/components/schemas/BudgetChange" } } },
        },
        responses: {
          "200": {
            description: "The budget as it is now",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Budget" } } },
          },
          "400": jsonError("Invalid JSON, an unknown or invalid field, or no field to change"),
          "415": jsonError("A body that is not application/json"),
          ...resourceErrors,
        },
      },
    },
    "/invites": {
      get: {
        operationId: "listInvites",
        summary: "One page of the invites of the key's host the service may see, oldest first (scope manage)",
        parameters: queryParameters(pageQuery),
        responses: {
          "200": {
            description: "Invites in the state asked for",
            headers: {
              Link: {
                description:
                  '</invites?[state=S&]limit=N&after=CURSOR>; rel="next", when there may be more: a page of the history examines at most 2 × (limit + 1) invites, so it may hold fewer than limit (even none) and still have one',
                schema: { type: "string" },
              },
            },
            content: {
              "application/json": { schema: { type: "array", items: { $ref: "#/components/schemas/InviteRecord" } } },
            },
          },
          "400": jsonError(
            "state, limit or after is not valid, or given twice; or after names an invite the history no longer has",
          ),
          ...resourceErrors,
        },
      },
    },
    "/invites/options": {
      get: {
        operationId: "getInviteOptions",
        summary:
          "What the key may do (its powers) and what an invite may carry on its host: groups, roles, ttl bounds (any scope)",
        responses: {
          "200": {
            description: "The key's powers and the host's invite options",
            content: { "application/json": { schema: { $ref: "#/components/schemas/InviteOptions" } } },
          },
          ...resourceErrors,
        },
      },
    },
    "/invites/{id}": {
      get: {
        operationId: "showInvite",
        summary: "One invite, pending or in the history, with its registrations (scope manage)",
        parameters: idParameter,
        responses: { "200": { description: "The invite", content: invitesRecord }, ...notFound, ...resourceErrors },
      },
      patch: {
        operationId: "updateInvite",
        summary:
          "Change a pending invite's ttl (from now), use cap or note, keeping its link (scope manage); the history records it",
        parameters: idParameter,
        requestBody: {
          required: true,
          content: { "application/json": { schema: { $ref: "#/components/schemas/InviteUpdate" } } },
        },
        responses: {
          "200": { description: "The invite as it is now", content: invitesRecord },
          "400": jsonError(
            "Invalid JSON, an unknown or invalid field, no field to change, a ttl above the key's --max-ttl, or a change Prosody refused (a ttl above invites_manage_max_ttl, a cap below the uses, a cap on a single-use invite)",
          ),
          "415": jsonError("A body that is not application/json"),
          ...notFound,
          ...resourceErrors,
        },
      },
      delete: {
        operationId: "revokeInvite",
        summary: "Revoke a pending invite: its link stops working (scope manage)",
        parameters: idParameter,
        responses: { "204": { description: "Revoked" }, ...notFound, ...resourceErrors },
      },
    },
    "/accounts/{jid}/invite": {
      get: {
        operationId: "getAccountInvite",
        summary: "Which invite let an account in, when, and the key that made it (scope manage)",
        parameters: [
          {
            name: "jid",
            in: "path",
            required: true,
            description: "user@host (the key's host) or user",
            schema: { type: "string" },
          },
        ],
        responses: {
          "200": {
            description: "How the account came in",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Arrival" } } },
          },
          "404": jsonError(
            "No such account on the key's host, none that came in through an invite the service may see, or its record is past the window",
          ),
          ...resourceErrors,
        },
      },
    },
    "/session/methods": {
      get: {
        operationId: "getSignInMethods",
        summary:
          "How people may sign in here: by a link sent as an XMPP message, and which hosts through their Prosody (OAuth)",
        security: [],
        responses: {
          "200": {
            description: "The ways to sign in (none without PUBLIC_URL)",
            headers: noStore,
            content: { "application/json": { schema: { $ref: "#/components/schemas/SignInMethods" } } },
          },
          ...headersTooLarge,
        },
      },
    },
    "/session/link": {
      post: {
        operationId: "askSignInLink",
        summary:
          "Send a one-time sign-in link to an XMPP account, as a chat message from the component; the same answer whether or not the account exists or may sign in",
        security: [],
        requestBody: sessionBody("SignInLinkRequest"),
        responses: {
          "202": {
            description:
              "Taken: the link goes out when the account exists, is enabled and its role gives it something here",
            headers: noStore,
            content: { "application/json": { schema: { $ref: "#/components/schemas/SignInLinkSent" } } },
          },
          ...badSessionBody,
          "403": error("From another site: Origin or Sec-Fetch-Site not this site's (csrf_refused)"),
          "413": error("A body over 4 KiB (payload_too_large)"),
          "429": error(
            "Too many links asked for from this address (SIGN_IN_ADDRESS_RATE) or for this account (SIGN_IN_ACCOUNT_RATE): sign_in_limited",
            retryAfter,
          ),
          ...headersTooLarge,
          ...signInUnavailable,
        },
      },
    },
    "/session/link/redeem": {
      post: {
        operationId: "redeemSignInLink",
        summary: "Sign in with a link's token, once: a new session, its cookie set",
        security: [],
        requestBody: sessionBody("SignInLinkRedeem"),
        responses: {
          "200": { description: "Signed in", headers: { ...noStore, ...setCookie }, content: sessionJson },
          ...badSessionBody,
          "401": error(
            "The token is unknown, expired or used, or the account may no longer sign in (link_invalid; counts as a failed attempt from this address)",
          ),
          "403": error("From another site: Origin or Sec-Fetch-Site not this site's (csrf_refused)"),
          "429": error(
            "Too many failed attempts from this address, AUTH_FAILURE_LIMIT (too_many_failures)",
            retryAfter,
          ),
          ...headersTooLarge,
          ...signInUnavailable,
        },
      },
    },
    "/session": {
      get: {
        operationId: "getSession",
        summary: "Who is signed in, what they may do, their quota, and the CSRF token for changes",
        security: signedIn,
        responses: {
          "200": { description: "The session", headers: noStore, content: sessionJson },
          ...notSignedIn,
          ...headersTooLarge,
          ...signInUnavailable,
        },
      },
      patch: {
        operationId: "changeSession",
        summary: "Turn on or off the message the component sends when someone registers with your invite",
        security: signedIn,
        parameters: [csrfHeader],
        requestBody: sessionBody("SessionChange"),
        responses: {
          "200": { description: "The session as it is now", headers: noStore, content: sessionJson },
          ...badSessionBody,
          ...notSignedIn,
          ...crossSite,
          ...headersTooLarge,
          ...signInUnavailable,
        },
      },
      delete: {
        operationId: "signOut",
        summary: "Sign out: this session, or with everywhere=true every session of this person on every instance",
        security: signedIn,
        parameters: [
          csrfHeader,
          {
            name: "everywhere",
            in: "query",
            required: false,
            description: "true: end every session of this person",
            schema: { type: "string", enum: ["true", "false"] },
          },
        ],
        responses: {
          "204": { description: "Signed out (also when the session had ended already); the cookie is cleared" },
          "400": error("everywhere is neither true nor false"),
          ...crossSite,
          ...headersTooLarge,
          ...signInUnavailable,
        },
      },
    },
    "/session/oauth": {
      get: {
        operationId: "startOAuthSignIn",
        summary:
          "Sign in at the host's own Prosody (13, mod_http_oauth2): sends the browser to its login and consent pages",
        security: [],
        parameters: [
          {
            name: "host",
            in: "query",
            required: true,
            description: "A host of PEOPLE_OAUTH",
            schema: { type: "string" },
          },
          {
            name: "next",
            in: "query",
            required: false,
            description: "Where to go once signed in: a path of this origin (anything else: /admin/)",
            schema: { type: "string" },
          },
        ],
        responses: {
          ...oauthRedirect(
            "To Prosody's authorization endpoint (code, PKCE S256, state); on any failure to /admin/#sign-in-error=CODE",
          ),
          ...headersTooLarge,
          ...signInUnavailable,
        },
      },
    },
    "/session/oauth/callback": {
      get: {
        operationId: "finishOAuthSignIn",
        summary: "Where Prosody sends the browser back: the code becomes a session",
        security: [],
        parameters: [
          { name: "code", in: "query", required: false, schema: { type: "string" } },
          { name: "state", in: "query", required: true, schema: { type: "string" } },
          { name: "iss", in: "query", required: false, schema: { type: "string" } },
          { name: "error", in: "query", required: false, schema: { type: "string" } },
        ],
        responses: {
          ...oauthRedirect("Signed in (the session cookie set), to next; on any failure to /admin/#sign-in-error=CODE"),
          ...headersTooLarge,
          ...signInUnavailable,
        },
      },
    },
    "/health": {
      get: {
        operationId: "getHealth",
        summary: "The process is up",
        security: [],
        responses: {
          "200": {
            description: "Up",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Health" } } },
          },
          ...headersTooLarge,
        },
      },
    },
    "/ready": {
      get: {
        operationId: "getReadiness",
        summary: "Connected to Prosody and the key store answers",
        security: [],
        responses: {
          "200": {
            description: "Ready",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Readiness" } } },
          },
          "503": {
            description: "A part is down; the body says which",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Readiness" } } },
          },
          ...headersTooLarge,
        },
      },
    },
    "/metrics": {
      get: {
        operationId: "getMetrics",
        summary: "Prometheus metrics",
        security: [],
        responses: {
          "200": { description: "Metrics", content: { "text/plain": { schema: { type: "string" } } } },
          ...headersTooLarge,
        },
      },
    },
    "/openapi.json": {
      get: {
        operationId: "getOpenApiDocument",
        summary: "This document",
        security: [],
        responses: {
          "200": { description: "OpenAPI 3.1", content: { "application/json": { schema: { type: "object" } } } },
          ...headersTooLarge,
        },
      },
    },
  },
  components: {
    securitySchemes: {
      bearer: { type: "http", scheme: "bearer", description: "Authorization: Bearer ID/SECRET" },
      queryKey: { type: "apiKey", in: "query", name: "key" },
      sessionCookie: {
        type: "apiKey",
        in: "cookie",
        name: "__Host-invites_session",
        description: "The session cookie of a person signed in (invites_session when PUBLIC_URL is http on loopback)",
      },
    },
    schemas: componentSchemas(),
  },
} as const;
