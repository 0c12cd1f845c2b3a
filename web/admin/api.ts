/**
 * The one way the page talks to the service: the API at the service's root, one level above
 * /admin/. Every request goes to this origin and nowhere else (the page's CSP says the same), with
 * the key in the Authorization header only: never in a URL, never in a cookie.
 */
const ROOT = new URL("../", location.href);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
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

export async function request<T>(
  key: string,
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
        Authorization: `Bearer ${key}`,
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      cache: "no-store",
      credentials: "omit",
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
    const error = (data ?? {}) as { error?: unknown; message?: unknown };
    const code = typeof error.error === "string" ? error.error : "internal";
    throw new ApiError(res.status, code, typeof error.message === "string" ? error.message : `HTTP ${res.status}`);
  }
  const next = /[?&]after=([^&>]+)/.exec(res.headers.get("Link") ?? "")?.[1];
  return { body: data as T, ...(next ? { next: decodeURIComponent(next) } : {}) };
}
