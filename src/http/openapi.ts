import { ERROR_CODES } from "../errors.js";

/**
 * The OpenAPI 3.1 description of the HTTP API, served at /openapi.json. test/e2e/openapi.test.ts
 * produces every status documented here against the real service and validates each answer.
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
  "400": error("Malformed request (a parameter given twice, a bad type or username)"),
  "403": error("Missing, malformed, unknown, wrong or deleted key; or the key has expired or used its max-invites"),
  "405": error("The key does not allow this method, or the method is not GET/POST"),
  "429": error("Over the key's rate, or too many failed key attempts from this address", retryAfter),
  "431": { description: "URL or headers larger than 16 KiB (answered by Node's HTTP parser, no body)" },
  "502": error("Prosody refused the command or sent an unreadable answer (the log says what to fix)"),
  "503": error("Not connected to Prosody, or the key store failed", retryAfter),
  "504": error("Prosody did not answer within INVITE_TIMEOUT_MS"),
};

const inviteParameters = [
  { name: "key", in: "query", description: "ID/SECRET, unless sent as a Bearer token", schema: { type: "string" } },
  { name: "redirect", in: "query", description: "Any value: answer 303 to the invite", schema: { type: "string" } },
  {
    name: "type",
    in: "query",
    description: "account (default) or reset (a password-reset invite, POST only, Prosody 13)",
    schema: { type: "string", enum: ["account", "reset"] },
  },
  {
    name: "username",
    in: "query",
    description: "The user whose password is reset (type=reset)",
    schema: { type: "string" },
  },
];

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "invites-api",
    version: "1",
    description: "Creates Prosody invites; a drop-in for mod_invites_api's /invites_api.",
  },
  security: [{ bearer: [] }, { queryKey: [] }],
  paths: {
    "/invites_api": {
      get: {
        summary: "Create an account invite",
        parameters: inviteParameters,
        responses: inviteResponses,
      },
      post: {
        summary: "Create an account invite, or a password-reset invite with type=reset",
        parameters: inviteParameters,
        responses: {
          ...inviteResponses,
          "501": error("type=reset on a Prosody without the password-reset command (before 13)"),
        },
      },
      options: {
        summary: "CORS preflight, answered without a key",
        security: [],
        responses: { "204": { description: "Preflight accepted" } },
      },
    },
    "/health": {
      get: {
        summary: "The process is up",
        security: [],
        responses: {
          "200": {
            description: "Up",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Health" } } },
          },
        },
      },
    },
    "/ready": {
      get: {
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
        },
      },
    },
    "/metrics": {
      get: {
        summary: "Prometheus metrics",
        security: [],
        responses: { "200": { description: "Metrics", content: { "text/plain": { schema: { type: "string" } } } } },
      },
    },
    "/openapi.json": {
      get: {
        summary: "This document",
        security: [],
        responses: {
          "200": { description: "OpenAPI 3.1", content: { "application/json": { schema: { type: "object" } } } },
        },
      },
    },
  },
  components: {
    securitySchemes: {
      bearer: { type: "http", scheme: "bearer", description: "Authorization: Bearer ID/SECRET" },
      queryKey: { type: "apiKey", in: "query", name: "key" },
    },
    schemas: {
      Invite: {
        type: "object",
        required: ["url", "uri", "expires"],
        additionalProperties: false,
        properties: {
          url: { type: "string", description: "The invite link, as in Location" },
          uri: { type: "string", description: "The xmpp: URI of the invite" },
          expires: { type: "string", description: "When the invite expires (UTC, ISO 8601)" },
        },
      },
      Error: {
        type: "object",
        required: ["error", "message"],
        additionalProperties: false,
        properties: {
          // "internal": the answer to a failure nobody foresaw (500).
          error: { type: "string", enum: [...ERROR_CODES, "internal"] },
          message: { type: "string" },
        },
      },
      Health: {
        type: "object",
        required: ["status"],
        properties: { status: { const: "ok" } },
      },
      Part: {
        type: "object",
        required: ["ok"],
        properties: { ok: { type: "boolean" }, problem: { type: "string" } },
      },
      Readiness: {
        type: "object",
        required: ["ready", "xmpp", "store"],
        properties: {
          ready: { type: "boolean" },
          xmpp: { $ref: "#/components/schemas/Part" },
          store: { $ref: "#/components/schemas/Part" },
        },
      },
    },
  },
} as const;
