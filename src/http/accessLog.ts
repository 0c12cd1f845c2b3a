import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, Next } from "koa";
import { pinoHttp } from "pino-http";
import { clientAddress } from "./clientAddress.js";
import type { Logger } from "../log.js";

// Query parameters whose values are safe to log; every other value (the key, a username, and
// whatever a client sends as `key[]=` or `%6Bey=`) is replaced.
const SAFE_PARAMETERS = new Set(["redirect", "type"]);

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return raw;
  }
}

/** The request target with the value of every query parameter but the safe ones replaced. */
export function redactUrl(url: string): string {
  const hash = url.indexOf("#");
  const target = hash < 0 ? url : url.slice(0, hash);
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

/**
 * One access log line per request (pino-http), with only what an operator needs: never the key,
 * whether it came in the query string or in the Authorization header (which is not logged at all).
 */
export function accessLog(log: Logger, trustedProxies: number) {
  const logger = pinoHttp({
    logger: log,
    wrapSerializers: false,
    serializers: {
      req: (req: IncomingMessage & { id?: unknown }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.url ?? ""),
        userAgent: req.headers["user-agent"],
      }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "warn" : "info"),
    customSuccessMessage: () => "request",
    customErrorMessage: () => "request",
    // The same address the failed-attempt limit counts.
    customProps: (req) => ({ remoteAddress: clientAddress(req, trustedProxies) }),
  });
  return async function accessLog(ctx: Context, next: Next): Promise<void> {
    logger(ctx.req, ctx.res);
    await next();
  };
}
