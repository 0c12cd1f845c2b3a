import { createHmac, timingSafeEqual } from "node:crypto";

// OpenID Connect Core 1.0, 3.1.3.7 (ID Token validation), for what mod_http_oauth2 issues: an
// HS256 JWT (RFC 7519) signed with the client's secret, whose `sub` is `xmpp:USER@HOST`.

export interface IdTokenExpectations {
  /** The client secret: the HMAC key. */
  readonly secret: string;
  /** The authorization server's issuer, from its metadata. */
  readonly issuer: string;
  /** Our client_id: the token's audience. */
  readonly clientId: string;
  /** The nonce sent with the authorization request. */
  readonly nonce: string;
  /** Unix seconds. */
  readonly now: number;
}

/** Why an ID token was not taken; the text names a claim, never a value. */
export class IdTokenError extends Error {
  override readonly name = "IdTokenError";
}

// Clocks of two machines: a minute either way.
const LEEWAY_S = 60;

function decodePart(part: string | undefined): Record<string, unknown> {
  if (part === undefined || !/^[A-Za-z0-9_-]+$/.test(part)) throw new IdTokenError("malformed token");
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    throw new IdTokenError("malformed token");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new IdTokenError("malformed token");
  return value as Record<string, unknown>;
}

/**
 * Checks the signature, issuer, audience, expiry and nonce of an ID token and returns the bare JID
 * its subject names (lowercased domain; the node as Prosody prepped it). Throws IdTokenError.
 */
export function verifyIdToken(token: string, expected: IdTokenExpectations): string {
  const parts = token.split(".");
  if (parts.length !== 3) throw new IdTokenError("malformed token");
  const [head, body, signature] = parts as [string, string, string];
  // The algorithm is fixed here, never taken from the token ("alg": "none" and friends).
  if (decodePart(head).alg !== "HS256") throw new IdTokenError("unexpected alg");
  const wanted = createHmac("sha256", expected.secret).update(`${head}.${body}`).digest();
  const given = Buffer.from(signature, "base64url");
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw new IdTokenError("bad signature");
  const claims = decodePart(body);
  if (claims.iss !== expected.issuer) throw new IdTokenError("wrong iss");
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audience.includes(expected.clientId)) throw new IdTokenError("wrong aud");
  if (typeof claims.exp !== "number" || claims.exp + LEEWAY_S < expected.now) throw new IdTokenError("expired");
  if (typeof claims.nonce !== "string" || !sameText(claims.nonce, expected.nonce))
    throw new IdTokenError("wrong nonce");
  const jid = typeof claims.sub === "string" ? /^xmpp:([^@/\s]+)@([^@/\s]+)$/.exec(claims.sub) : null;
  if (!jid) throw new IdTokenError("sub is not an xmpp: bare JID");
  return `${jid[1]}@${(jid[2] ?? "").toLowerCase()}`;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
