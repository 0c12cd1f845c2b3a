import { z } from "zod";
import { ERROR_CODES } from "../../errors.js";
import { POWERS } from "../../keys/powers.js";
import { INVITE_STATES } from "../../xmpp/inviteStates.js";

// The JSON bodies the service answers with, each written once: the TypeScript types (apiTypes.ts),
// the admin page's types (web/admin/types.ts) and /openapi.json (openapi.ts) come from these.

const seconds = z.number().int();
const text = (description: string) => z.string().nullable().meta({ description });

/**
 * An invite of the /invites resource, shaped like mod_http_admin_api's so that tools written for it
 * port easily: same request fields, same invite fields, times in Unix seconds.
 */
export const inviteRecord = z
  .object({
    id: z.string().meta({ description: "The invite's token" }),
    type: z.string().meta({ description: "Prosody's invite type: register" }),
    reusable: z.boolean().meta({ description: "Group invites register any number of accounts until they expire" }),
    inviter: z.string().nullable(),
    jid: z.string().meta({ description: "The reserved account, or the host" }),
    uri: z.string(),
    landing_page: text("The link a person opens, where invites_page runs"),
    created_at: seconds,
    expires: seconds,
    groups: z.array(z.string()),
    roles: z.array(z.string()),
    reset: z.boolean().meta({ description: "A password-reset invite" }),
    note: z.string().nullable(),
    ref: text("The caller's reference given when it was made"),
    source: text("invites-api/KEY_ID, or who else made it"),
    created_by: text("Who made it: a person's JID, key:KEY_ID for a key, or the inviter's JID; null if unknown"),
    revoked_by: text(
      "Who revoked it: a person's JID, key:KEY_ID for a key, or the JID of an admin who revoked it in Prosody; null while not revoked or if unknown",
    ),
    uses: seconds.min(0).meta({ description: "Accounts registered with it so far" }),
    max_uses: seconds.nullable().meta({ description: "A reusable invite's cap" }),
    state: z.enum(INVITE_STATES),
    closed_at: seconds.nullable().meta({ description: "When it was used up, revoked or expired; null while pending" }),
    redemptions: z
      .array(
        z.object({
          jid: z.string(),
          at: seconds,
          deleted: z.boolean().meta({ description: "The account is gone (its name may be taken again)" }),
        }),
      )
      .meta({ description: "GET /invites/{id} only: the registrations through it, oldest first (the first 100)" })
      .optional(),
  })
  .meta({ description: "As mod_http_admin_api answers; times in Unix seconds" });

const ttlSeconds = seconds.min(1);

/** GET /invites/options: what the key may do and what an invite may carry on its host. */
export const inviteOptions = z.object({
  host: z.string().meta({ description: "The key's VirtualHost" }),
  key: z.string().meta({ description: "The key's id" }),
  scopes: z.array(z.string()),
  can: z
    .array(z.enum(POWERS))
    .meta({ description: "The powers of this key (src/keys/powers.ts): what a client should offer its holder" }),
  groups: z.array(z.object({ id: z.string(), name: z.string() })).meta({ description: "invites_manage_groups, by id" }),
  roles: z
    .array(z.string())
    .meta({ description: "The roles an invite may give (within invites_manage_roles; none on Prosody 0.12)" }),
  max_ttl: ttlSeconds.meta({
    description: "The longest ttl: invites_manage_max_ttl, or the key's --max-ttl if lower",
  }),
  default_ttl: z
    .object({ account: ttlSeconds, group: ttlSeconds, reset: ttlSeconds })
    .meta({ description: "The ttl each kind gets when the request names none" }),
});

/** GET /accounts/{jid}/invite: how an account came in. */
export const arrival = z.object({
  jid: z.string(),
  invite: z.string().meta({ description: "The id (token) of the invite it registered with" }),
  at: seconds.meta({ description: "When, in Unix seconds" }),
  source: text("Who made the invite: invites-api/KEY_ID, or adhoc/JID"),
  key: text("The id of the API key that made the invite, if one did"),
  created_by: text("Who made the invite: a person's JID, key:KEY_ID for a key; null if unknown"),
  ref: text("The reference the invite was made with"),
});

/** POST /invites/batch: each invite asked for, in the order asked, made or not. */
export const batchAnswer = z.object({
  created: seconds.min(0).meta({ description: "How many were made" }),
  failed: seconds.min(0).meta({ description: "How many were not" }),
  invites: z
    .array(
      z.union([
        z.object({
          status: z.literal(201),
          ref: z.string().nullable(),
          invite: inviteRecord,
        }),
        z.object({
          status: seconds.min(400).meta({ description: "What its own route would have answered" }),
          ref: z.string().nullable(),
          error: z.enum([...ERROR_CODES, "internal"]),
          message: z.string(),
        }),
      ]),
    )
    .meta({ description: "One entry per invite asked for, in the same order" }),
});

/** GET and PATCH /budget: the key's host's registration budget and pause, as Prosody enforces them. */
export const budget = z.object({
  host: z.string(),
  limit: z
    .object({ count: seconds.min(1), window_seconds: seconds.min(1) })
    .nullable()
    .meta({ description: "At most count registrations per window; null: no budget" }),
  paused: z.boolean().meta({ description: "While true, no registration is admitted" }),
  used: seconds.min(0).meta({ description: "Registrations counted in the current window" }),
  resets_at: seconds
    .nullable()
    .meta({ description: "When the current window ends (Unix seconds); null without a budget" }),
});

/** /invites_api's invite, when JSON is asked for. */
export const dropInInvite = z.object({
  url: z.string().meta({ description: "The invite link, as in Location" }),
  uri: z.string().meta({ description: "The xmpp: URI of the invite" }),
  expires: z.string().meta({ description: "When the invite expires (UTC, ISO 8601)" }),
});

/** Every error in JSON; "internal" is the answer to a failure nobody foresaw (500). */
export const errorAnswer = z.object({
  error: z.enum([...ERROR_CODES, "internal"]),
  message: z.string(),
  next_at: z
    .string()
    .nullable()
    .meta({ description: "quota_exhausted: when the next place of the quota frees (ISO 8601)" })
    .optional(),
});

export const health = z.object({ status: z.literal("ok") });

export const part = z.object({ ok: z.boolean(), problem: z.string().optional() });

/** GET /ready: each part's state; while the service stops, only that. */
export const readiness = z.union([
  z.object({ ready: z.boolean(), xmpp: part, store: part }),
  z.object({ ready: z.literal(false), stopping: z.literal(true) }),
]);
