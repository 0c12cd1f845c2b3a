/**
 * The one way the page talks to the service: the API at the service's root, one level above
 * /admin/. Every request goes to this origin and nowhere else (the page's CSP says the same). A key
 * goes in the Authorization header only (never in a URL, never in a cookie), with no cookie sent;
 * a person signed in with their XMPP account is their session's HttpOnly cookie, which the page
 * never reads, and each request carries the session's anti-CSRF token.
 */
const ROOT = new URL("../", location.href);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** When the next place of a person's quota frees (quota_exhausted's next_at). */
    readonly nextAt?: string,
  ) {
    super(message);
  }
}

/** The service did not answer at all: the network, or the service itself, is down. */
export class Unreachable extends Error {}

export interface Answer<T> {
  readonly body: T;
  /** The cursor of the next page, from a Link header. */
  readonly next?: string;
}

/** How a request proves who asks: an API key, a person's session (its CSRF token), or nobody yet. */
export type Credential = { readonly key: string } | { readonly csrf: string } | { readonly anonymous: true };

function credentialHeaders(credential: Credential): Record<string, string> {
  if ("key" in credential) return { Authorization: `Bearer ${credential.key}` };
  if ("csrf" in credential) return { "X-CSRF-Token": credential.csrf };
  return {};
}

export async function request<T>(
  credential: Credential,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const url = new URL(path, ROOT);
  if (url.origin !== location.origin) throw new Error("the page talks to its own origin only");
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method,
      headers: {
        ...credentialHeaders(credential),
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      cache: "no-store",
      // A key's requests carry no cookie; a session's carry its cookie (same origin only).
      credentials: "key" in credential ? "omit" : "same-origin",
      redirect: "error",
      referrerPolicy: "no-referrer",
    });
    text = await res.text();
  } catch {
    throw new Unreachable("The invites service does not answer.");
  }
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const error = (data ?? {}) as { error?: unknown; message?: unknown; next_at?: unknown };
    const code = typeof error.error === "string" ? error.error : "internal";
    const message = typeof error.message === "string" ? error.message : `HTTP ${res.status}`;
    throw new ApiError(res.status, code, message, typeof error.next_at === "string" ? error.next_at : undefined);
  }
  const next = /[?&]after=([^&>]+)/.exec(res.headers.get("Link") ?? "")?.[1];
  return { body: data as T, ...(next ? { next: decodeURIComponent(next) } : {}) };
}
