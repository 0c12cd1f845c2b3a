import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * API keys have the shape mod_invites_api gives them, `ID/SECRET`, so keys look and paste the same:
 * ID is 8 url-safe characters (6 random bytes), SECRET 32 (24 random bytes). Only a SHA-256 of the
 * secret is kept; secrets are long random strings, so a fast hash is enough and a slow KDF buys nothing.
 */
const ID_BYTES = 6;
const SECRET_BYTES = 24;
const URL_SAFE = /^[A-Za-z0-9_-]+$/;
// Generated keys are 8/32; mod_invites_api's own have been 8/32 and 12/36 (Prosody 0.12.3):
// accept that family, so imported keys keep working, and nothing far outside it.
const MIN_ID_LENGTH = 6;
const MAX_ID_LENGTH = 32;
const MIN_SECRET_LENGTH = 32;
const MAX_SECRET_LENGTH = 128;

export interface ParsedKey {
  readonly id: string;
  readonly secret: string;
}

/**
 * A fresh key. Its id never begins with "-" (one base64url id in 64 would): command lines read
 * such an id as an option, and `invites-api delete HOST -AbC…` must just work.
 */
export function generateKey(random: (size: number) => Buffer = randomBytes): ParsedKey {
  let id = random(ID_BYTES).toString("base64url");
  while (id.startsWith("-")) id = random(ID_BYTES).toString("base64url");
  return { id, secret: random(SECRET_BYTES).toString("base64url") };
}

export const formatKey = (key: ParsedKey): string => `${key.id}/${key.secret}`;

/** Returns undefined for anything that is not a well-formed key, so callers cannot forget a case. */
export function parseKey(raw: string | undefined): ParsedKey | undefined {
  if (!raw) return undefined;
  const slash = raw.indexOf("/");
  if (slash < 0) return undefined;
  const id = raw.slice(0, slash);
  const secret = raw.slice(slash + 1);
  if (id.length < MIN_ID_LENGTH || id.length > MAX_ID_LENGTH || !URL_SAFE.test(id)) return undefined;
  if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) return undefined;
  if (!URL_SAFE.test(secret)) return undefined;
  return { id, secret };
}

export const hashSecret = (secret: string): string => createHash("sha256").update(secret, "utf8").digest("hex");

// Compared when the id is unknown, so an unknown id costs the same time as a wrong secret.
const DUMMY_HASH = hashSecret(randomBytes(SECRET_BYTES).toString("base64url"));

/** Constant-time check of a presented secret against a stored hash (or none, for an unknown id). */
export function secretMatches(secret: string, storedHash: string | undefined): boolean {
  const presented = Buffer.from(hashSecret(secret), "hex");
  const expected = Buffer.from(storedHash ?? DUMMY_HASH, "hex");
  if (expected.length !== presented.length) return false;
  return timingSafeEqual(presented, expected) && storedHash !== undefined;
}
