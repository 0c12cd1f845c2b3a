import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import { AppError } from "../errors.js";
import type { Metrics } from "../metrics/metrics.js";
import type { AccessTracker } from "./accessLog.js";
import { CORS_HEADERS } from "./cors.js";
import { answerFor, errorBody } from "./errors.js";
import { prefersJson } from "./negotiation.js";
import { countError } from "./requestMetrics.js";
import { checkKey, markChecked, markFailed, type KeyCheck } from "./requireApiKey.js";

const CORS_PAIRS = Object.entries(CORS_HEADERS).flat();

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

// Refusals the gate answers itself; anything else (a store failure, say) goes on to Koa, marked,
// which answers it the usual way.
const ANSWERED = new Set(["invalid_key", "bad_request", "too_many_failures"]);

export interface GateDeps extends KeyCheck {
  readonly metrics: Metrics;
  readonly track: AccessTracker;
  readonly stopping: () => boolean;
}

/**
 * The key check of `GET`/`POST /invites_api`, in front of Koa: a bad key is answered from here,
 * exactly as Koa's middleware would answer it (status, body, CORS, `Connection: close` when
 * stopping, access line, metrics), without building a Koa context or matching a route. A flood of
 * bad keys is the load this service must shrug off (issue 12: a refusal cost 6.7 times a plain
 * `node:http` answer, Koa and the router a sixth of it). A good key goes on to Koa, marked as checked.
 */
export function keyGate(deps: GateDeps, next: Handler): Handler {
  const counted = countError(deps.metrics);

  function refuse(req: IncomingMessage, res: ServerResponse, err: AppError): void {
    const answer = answerFor(err);
    counted(answer.code);
    const { type, body } = errorBody(answer, prefersJson(req));
    // One flat list for writeHead: cheaper than a setHeader call per header.
    const headers = [...CORS_PAIRS, "Content-Type", type, "Content-Length", String(Buffer.byteLength(body))];
    if (answer.retryAfterSeconds) headers.push("Retry-After", String(answer.retryAfterSeconds));
    if (deps.stopping()) headers.push("Connection", "close");
    res.writeHead(answer.status, headers).end(body);
    deps.metrics.request("/invites_api", req.method ?? "", answer.status);
  }

  return function gate(req, res) {
    const url = req.url ?? "";
    const question = url.indexOf("?");
    const path = question < 0 ? url : url.slice(0, question);
    if (path !== "/invites_api" || (req.method !== "GET" && req.method !== "POST")) return next(req, res);
    const query = question < 0 ? {} : parseQuery(url.slice(question + 1));
    checkKey(deps, req, query.key).then(
      (apiKey) => {
        markChecked(req, apiKey);
        next(req, res);
      },
      (err: unknown) => {
        if (!(err instanceof AppError) || !ANSWERED.has(err.code)) {
          markFailed(req, err);
          return next(req, res);
        }
        deps.track(req, res);
        refuse(req, res, err);
      },
    );
  };
}
