import { z } from "zod";
import { POWERS } from "../keys/powers.js";

// The session API's shapes (issue 29), each written once: the routes parse requests with these,
// and their answers are typed by them (openapi.ts can state them alike).

/** A bare JID: a localpart, one "@", a domain; no resource. Lowercased: Prosody's accounts are. */
export const BARE_JID = /^[^@/\s\p{Cc}]+@[^@/\s\p{Cc}]+$/u;
const MAX_JID_BYTES = 3071;

export const linkRequest = z.strictObject({
  jid: z
    .string()
    .regex(BARE_JID)
    .refine((jid) => Buffer.byteLength(jid, "utf8") <= MAX_JID_BYTES)
    .transform((jid) => jid.toLowerCase())
    .meta({ description: "The account to send a sign-in link to, e.g. alice@example.com" }),
});

/** A sign-in link's token: 32 random bytes, base64url. */
export const SIGN_IN_TOKEN = /^[A-Za-z0-9_-]{43}$/;
export const redeemRequest = z.strictObject({
  token: z.string().max(200).meta({ description: "The token of a sign-in link (after #sign-in=)" }),
});

export const sessionPatch = z.strictObject({
  notify: z.boolean().meta({ description: "Whether the component tells you when someone joins with your invite" }),
});

/** What the 400s of these routes say each field takes. */
export const SESSION_EXPECTED: Readonly<Record<string, string>> = {
  jid: "a bare JID such as alice@example.com",
  token: "the token of a sign-in link",
  notify: "true or false",
};

export const linkAnswer = z.object({ sent: z.literal(true) });

export const methodsAnswer = z.object({
  link: z.boolean().meta({ description: "A sign-in link sent as an XMPP message" }),
  oauth: z.array(z.string()).meta({ description: "Hosts whose XMPP server signs people in (OAuth)" }),
});

export const sessionAnswer = z.object({
  jid: z.string(),
  host: z.string(),
  role: z.string(),
  via: z.enum(["link", "oauth"]),
  powers: z.array(z.enum(POWERS)),
  circles: z.array(z.string()).nullable(),
  own_only: z.boolean(),
  quota: z
    .object({
      limit: z.number().int(),
      used: z.number().int(),
      left: z.number().int(),
      window_seconds: z.number().int(),
      next_at: z.string().nullable(),
    })
    .nullable(),
  notify: z.boolean(),
  csrf: z.string().meta({ description: "Send it back in X-CSRF-Token with every change" }),
  expires_at: z.string().meta({ description: "When the session ends at the latest (being idle ends it sooner)" }),
});
export type SessionJson = z.infer<typeof sessionAnswer>;
