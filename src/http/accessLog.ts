import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, Next } from "koa";
import { clientAddress } from "./clientAddress.js";
import type { Logger } from "../log.js";

// Query parameters whose values are safe to log; every other value (the key, a username, and
// whatever a client sends as `key[]=` or `%6Bey=`) is replaced.
const SAFE_PARAMETERS = new Set(["redirect", "type", "ttl", "lang", "platform"]);

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return raw;
  }
}

// The scheme and authority of an absolute-form request target (RFC 9112, 3.2.2).
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i;

// An invite's id is its token, which registers an account: /invites/{id} is logged without it.
const INVITE_ID = /^(\/+invites\/+)(?!(?:account|group|reset|options)(?:\?|$))[^?]+/i;

// The invite page's token, in /invite/HOST/TOKEN and below it; only the page's own files
// (/invite/assets/NAME.js, a '.' no token has) keep their name. A single segment after /invite/
// (a host and token joined by %2F, say) is hidden whole.
const INVITE_PAGE = /^(\/+invite\/+)([^/?]*)(\/+[^/?]*)?/i;
const ASSET = /^\/+[\w-]+\.(?:js|css)$/;

function withoutInviteToken(path: string): string {
  return path.replace(INVITE_PAGE, (all, prefix: string, host: string, token: string | undefined) => {
    if (token === undefined) return `${prefix}[redacted]`;
    if (host.toLowerCase() === "assets" && ASSET.test(token)) return all;
    return `${prefix}${host}/[token]`;
  });
}

/**
 * The request target with the value of every query parameter but the safe ones replaced, and
 * without the id of an invite in /invites/{id} nor the token in /invite/{host}/{token}.
 */
export function redactUrl(url: string): string {
  const hash = url.indexOf("#");
  // An absolute-form target (`GET http://host/invites/ID HTTP/1.1`) is routed by its path: log that.
  const path = (hash < 0 ? url : url.slice(0, hash)).replace(ABSOLUTE_FORM, "");
  const target = withoutInviteToken(path.replace(INVITE_ID, "$1[id]"));
  const question = target.indexOf("?");
  if (question < 0) return target;
  const pairs = target
    .slice(question + 1)
    .split("&")
    .map((pair) => {
      const equals = pair.indexOf("=");
      if (equals < 0) return pair;
      const name = pair.slice(0, equals);
      return SAFE_PARAMETERS.has(decodedName(name).toLowerCase()) ? pair : `${name}=[redacted]`;
    });
  return `${target.slice(0, question)}?${pairs.join("&")}`;
}

export type AccessTracker = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * One access log line per request, with only what an operator needs: never the key, whether it
 * came in the query string or in the Authorization header (which is not logged at all). One pino
 * call as the answer ends, no child logger per request: pino-http's per-request loggers and
 * serializers were a sixth of the CPU of a refused request. Shared by the Koa middleware and the
 * key gate in front of Koa (keyGate.ts), so that both number requests alike.
 */
export function accessTracker(log: Logger, trustedProxies: number): AccessTracker {
  let lastId = 0;
  return function track(req, res) {
    const id = (lastId += 1);
    const started = performance.now();
    // Read now: once the connection is gone, the socket no longer knows its peer.
    const remoteAddress = clientAddress(req, trustedProxies);
    res.once("close", () => {
      // Closed before the answer was written: the client went away, or the answer failed.
      const aborted = !res.writableFinished;
      const level = aborted || res.statusCode >= 500 ? "warn" : "info";
      if (!log.isLevelEnabled(level)) return;
      log[level](
        {
          req: { id, method: req.method, url: redactUrl(req.url ?? ""), userAgent: req.headers["user-agent"] },
          res: { statusCode: res.statusCode },
          remoteAddress,
          responseTime: Math.round(performance.now() - started),
          ...(aborted ? { aborted } : {}),
        },
        "request",
      );
    });
  };
}

export function accessLog(track: AccessTracker) {
  return async function accessLog(ctx: Context, next: Next): Promise<void> {
    track(ctx.req, ctx.res);
    await next();
  };
}
