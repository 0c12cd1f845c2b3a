import { z } from "zod";
import { INVITE_STATES } from "../../xmpp/inviteStates.js";
import { USERNAME } from "../usernames.js";

// The requests the service takes, each written once: the routes parse with these schemas and
// /openapi.json states them (openapi.ts), so a limit cannot be enforced without being documented.
// Prosody's own checks (nodeprep, known roles and groups, its ttl limit) come after these.

/** The service's own limits, also named in the 400 messages (fieldErrors.ts). */
export const LIMITS = {
  label: 200,
  ref: 200,
  batch: 1_000,
  groups: 32,
  roles: 16,
  note: 1_000,
  ttl: 100 * 365 * 86_400,
  maxUses: 1_000_000,
  page: 200,
  pageDefault: 50,
  // /invites_api takes up to ten digits, as mod_invites_api did; the module applies its own limit.
  dropInTtl: 9_999_999_999,
} as const;

const label = z
  .string()
  .min(1)
  .max(LIMITS.label)
  .regex(/^[^\p{Cc}]+$/u, "no control characters");
const ttl = z.number().int().min(1).max(LIMITS.ttl).meta({
  description: "Seconds it stays valid (default: Prosody's invite_expiry; the key's --max-ttl may allow less)",
});
// Each listed once (a registration does roster work per group): repeats are dropped, then counted,
// so the document states the counted list (openapi.ts renders the output side of each pipe).
const labels = (max: number, min?: number) =>
  z
    .array(label)
    .transform((list) => [...new Set(list)])
    .pipe(min ? z.array(label).min(min).max(max) : z.array(label).max(max));
const groups = (min?: number) => labels(LIMITS.groups, min).meta({ description: "Ids from invites_manage_groups" });
const common = {
  ttl: ttl.optional(),
  roles: labels(LIMITS.roles)
    .meta({ description: "Prosody 13 roles, within invites_manage_roles (GET /invites/options lists them)" })
    .optional(),
  note: z
    .string()
    .max(LIMITS.note)
    .regex(/^[^\p{Cc}]*$/u, "no control characters")
    .meta({ description: "Free text kept with the invite" })
    .optional(),
};
export const username = z.string().regex(USERNAME, "not a valid user name");
const ref = z
  .string()
  .min(1)
  .max(LIMITS.ref)
  .regex(/^[^\p{Cc}]+$/u, "no control characters")
  .meta({
    description:
      "The caller's own reference (a person, a row of a sheet): kept on the invite, its registrations, GET /accounts/{jid}/invite and every webhook of it",
  });
const maxUses = z
  .number()
  .int()
  .min(1)
  .max(LIMITS.maxUses)
  .meta({ description: "At most this many accounts register with it" });

/** The bodies of POST /invites/account, /invites/group and /invites/reset. */
export const INVITE_BODIES = {
  account: z.strictObject({
    ...common,
    username: username.meta({ description: "Only this account may register with the invite" }).optional(),
    groups: groups().optional(),
    ref: ref.optional(),
  }),
  group: z.strictObject({
    ...common,
    groups: groups(1),
    max_uses: maxUses.optional(),
    ref: ref.optional(),
  }),
  reset: z.strictObject({
    username: username.meta({ description: "The account whose password is reset" }),
    ttl: ttl.optional(),
    ref: ref.optional(),
  }),
} as const;

export type Kind = keyof typeof INVITE_BODIES;

const KIND = { description: "Which invite: as POST /invites/account, /invites/group or /invites/reset" };

/** One invite of POST /invites/batch: the body of its kind's own route, with its `kind`. */
export const batchItem = z.discriminatedUnion("kind", [
  INVITE_BODIES.account.extend({ kind: z.literal("account").meta(KIND) }),
  INVITE_BODIES.group.extend({ kind: z.literal("group").meta(KIND) }),
  INVITE_BODIES.reset.extend({ kind: z.literal("reset").meta(KIND) }),
]);

/** POST /invites/batch: up to LIMITS.batch invites, made in one call, answered in order. */
export const batchBody = z.strictObject({
  invites: z
    .array(batchItem)
    .min(1)
    .max(LIMITS.batch)
    .meta({ description: `1 to ${LIMITS.batch} invites, each as its kind's own route takes it` }),
});

/** PATCH /invites/{id}: what changes of a pending invite; its token and link stay. */
export const updateBody = z.strictObject({
  ttl: ttl
    .meta({
      description: "Its new lifetime from now, in seconds (within invites_manage_max_ttl and the key's --max-ttl)",
    })
    .optional(),
  max_uses: maxUses
    .nullable()
    .meta({ description: "A reusable invite's new cap (not below its uses); null removes the cap" })
    .optional(),
  note: common.note
    .unwrap()
    .nullable()
    .meta({ description: "Free text kept with the invite; null removes it" })
    .optional(),
});

/** "N/PERIOD": N registrations per period, e.g. 50/1d (parsed with the CLI's --rate reader). */
export const BUDGET_TEXT = /^\s*\d+\s*\/\s*\S+\s*$/;

/** PATCH /budget: an absent field stays as it is. */
export const budgetBody = z.strictObject({
  limit: z
    .union([
      z.strictObject({
        count: z.number().int().min(1).max(LIMITS.maxUses).meta({ description: "Registrations per window" }),
        window_seconds: z
          .number()
          .int()
          .min(60)
          .max(LIMITS.ttl)
          .meta({ description: "The window's length in seconds (at least 60)" }),
      }),
      z.string().regex(BUDGET_TEXT).meta({ description: "N/PERIOD, e.g. 50/1d or 10/1h" }),
      z.null(),
    ])
    .meta({ description: "The host's registration budget; null removes it" })
    .optional(),
  paused: z.boolean().meta({ description: "true: no registration is admitted on the host until false" }).optional(),
});

const wholeNumber = (digits: number, max: number, message: string) =>
  z
    .string()
    .regex(new RegExp(`^[1-9]\\d{0,${digits - 1}}$`), message)
    .transform(Number)
    .pipe(z.number().int().min(1).max(max, message));

const pageMessage = `a whole number from 1 to ${LIMITS.page}`;

/**
 * The query of GET /invites; `after` is the cursor of a previous page's Link (created.token for
 * pending invites, a token for the others).
 */
export const pageQuery = z.strictObject({
  state: z
    .enum(INVITE_STATES, { message: `one of ${INVITE_STATES.join(", ")}` })
    .meta({
      description:
        "pending (the default), or used, expired, revoked: from the history mod_invites_manage keeps (invites_manage_history_days)",
    })
    .optional(),
  limit: wholeNumber(3, LIMITS.page, pageMessage)
    .meta({ description: `Invites on the page: 1 to ${LIMITS.page}, ${LIMITS.pageDefault} by default` })
    .optional(),
  after: z
    .string()
    .regex(/^(\d{1,12}\.)?[A-Za-z0-9_-]{1,128}$/, "a cursor from a previous page's Link header")
    .meta({ description: "The cursor of the previous page, as its Link header gives it" })
    .optional(),
});

/**
 * The query of /invites_api (mod_invites_api's parameters). Not strict: the drop-in ignores what it
 * does not know, as the module did. invites.ts parses each parameter with its own message.
 */
export const dropInQuery = z.object({
  key: z.string().meta({ description: "ID/SECRET, unless sent as a Bearer token" }).optional(),
  redirect: z.string().meta({ description: "Any value: answer 303 to the invite" }).optional(),
  type: z
    .enum(["account", "reset"])
    .meta({
      description:
        "account (default) or reset (a password-reset invite: POST only, with username, a key of scope reset or manage, mod_invites_manage on the host)",
    })
    .optional(),
  username: username.meta({ description: "The user whose password is reset (type=reset)" }).optional(),
  ttl: wholeNumber(10, LIMITS.dropInTtl, "a whole number of seconds")
    .meta({ description: "Seconds the invite stays valid (needs mod_invites_manage on the host)" })
    .optional(),
});
