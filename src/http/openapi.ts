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
  "403": jsonError(
    "Missing, malformed, unknown, wrong, deleted or expired key; the key's scopes do not allow this (insufficient_scope); or the account is above invites_manage_roles (account_protected)",
  ),
  "429": jsonError(
    "Too many failed key attempts from this address; creating: over the key's rate; listing, showing, revoking: over MANAGE_RATE",
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
  security: [{ bearer: [] }, { queryKey: [] }],
  paths: {
    "/invites_api": {
      get: {
        operationId: "issueInviteByGet",
        summary: "Create an account invite",
        parameters: inviteParameters,
        responses: inviteResponses,
      },
      post: {
        operationId: "issueInviteByPost",
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
    },
    schemas: componentSchemas(),
  },
} as const;
