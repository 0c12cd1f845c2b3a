import { z } from "zod";

/**
 * PEOPLE_OAUTH: which hosts' people sign in through Prosody 13's mod_http_oauth2, and where the
 * service reaches that host's Prosody over HTTP, e.g. `{"example.com": "https://example.com:5281"}`.
 * The service registers itself there (RFC 7591), fetches the metadata (RFC 8414) and exchanges
 * codes; people's browsers go to the authorization endpoint the metadata names (Prosody's
 * http_external_url), so the address here may be an internal one (http://127.0.0.1:5280).
 */
export type OAuthProviders = Readonly<Record<string, string>>;

// Plain http would carry the client secret and the tokens in clear: only to this machine.
const LOOPBACK = /^(127(?:\.\d{1,3}){3}|\[::1\]|localhost)$/i;
const DOMAIN = /^[^\s@/:]+$/;

function providerUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const secure = url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.test(url.hostname));
  if (!secure || url.username || url.password || url.search || url.hash || /[?#]/.test(value)) return undefined;
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** The variable's text, as JSON, to a frozen map host → base URL (no trailing slash). */
export const peopleOAuthFromEnv = z.string().transform((text, ctx): OAuthProviders => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: "custom", message: 'is not JSON: expected e.g. {"example.com": "https://example.com:5281"}' });
    return z.NEVER;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    ctx.addIssue({
      code: "custom",
      message: 'expected a JSON object such as {"example.com": "https://example.com:5281"}',
    });
    return z.NEVER;
  }
  const providers: Array<[string, string]> = [];
  for (const [host, value] of Object.entries(parsed)) {
    const url = typeof value === "string" ? providerUrl(value) : undefined;
    if (!DOMAIN.test(host)) {
      ctx.addIssue({ code: "custom", message: `names ${JSON.stringify(host)}, which is not a bare domain` });
    } else if (url === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `gives ${host} no usable address: expected Prosody's HTTP base such as https://${host}:5281 (plain http only on 127.0.0.1, [::1] or localhost; no user, query or fragment)`,
      });
    } else providers.push([host.toLowerCase(), url]);
  }
  // fromEntries defines own properties: a host named "__proto__" stays a host.
  return Object.freeze(Object.fromEntries(providers));
});
