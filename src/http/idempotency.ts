import { createHash, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Context, Next } from "koa";
import { AppError, ERROR_CODES, type ErrorCode } from "../errors.js";
import type { Logger } from "../log.js";
import type { IdempotencyStore, KeptAnswer } from "../store/idempotency.js";
import { answerFor } from "./errors.js";
import type { ApiKeyState } from "./requireApiKey.js";

/** How long an answer is given again for the same Idempotency-Key. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;
/**
 * The first attempt's hold on its key while it runs: past it (its instance died mid-request), a
 * retry runs again. Longer than any request runs (a batch of 1,000 takes seconds).
 */
const RUNNING_LEASE_MS = 5 * 60_000;
/** How long a retry waits for the first attempt's answer before `409 idempotency_in_progress`. */
export const IDEMPOTENCY_WAIT_MS = 20_000;
// The headers of an answer that a retry gets again; the rest (CORS, Date) are the retry's own.
const KEPT_HEADERS = ["location", "link", "content-type"];
// The draft's value is a Structured Field string ("…"); a bare token is taken too.
const KEY_VALUE = /^"?([\x21\x23-\x7e]{1,255})"?$/;

const sha256 = (text: string) => createHash("sha256").update(text).digest("base64url");

/** JSON with each object's keys in order: the same body written another way has the same hash. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** What was asked: the body and the query (without the key, which names the caller apart). */
function fingerprintOf(ctx: Context): string {
  const { key: _key, ...query } = ctx.query;
  return sha256(canonical({ query, body: (ctx.request as { body?: unknown }).body ?? null }));
}

function keptAnswer(ctx: Context): KeptAnswer {
  const headers: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = ctx.response.get(name);
    if (value) headers[name] = value;
  }
  const body: unknown = ctx.body;
  const text = typeof body === "string" ? body : body == null ? "" : JSON.stringify(body);
  return { status: ctx.status, headers, body: text };
}

function replay(ctx: Context, answer: KeptAnswer): void {
  ctx.set("Idempotent-Replayed", "true");
  if (answer.error) {
    const code = (ERROR_CODES as readonly string[]).includes(answer.error.code) ? answer.error.code : "bad_request";
    throw new AppError(code as ErrorCode, answer.error.message);
  }
  ctx.status = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) ctx.set(name, value);
  ctx.body = answer.body;
  if (answer.headers["content-type"]) ctx.type = answer.headers["content-type"];
}

// A failure that a retry may meet differently (Prosody away, the store away, a rate): not kept.
const kept = (status: number) => status < 500 && status !== 429 && status !== 408;

/**
 * `Idempotency-Key` on a POST that creates (draft-ietf-httpapi-idempotency-key-header): the first
 * request with a key runs; a retry with the same key, API key, route and body within 24 h gets the
 * first answer again (`Idempotent-Replayed: true`) and creates nothing; with another body, `409
 * idempotency_key_reused`. A retry that arrives while the first still runs waits for its answer
 * (up to IDEMPOTENCY_WAIT_MS, then `409 idempotency_in_progress` with Retry-After). Answers of 5xx
 * and 429 are not kept: the retry runs again. Shared by every instance through the store.
 */
export function idempotent(opts: { store: IdempotencyStore; log: Logger; waitMs?: number }) {
  const waitMs = opts.waitMs ?? IDEMPOTENCY_WAIT_MS;
  const stored = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError("store_unavailable", "the key store failed (idempotency)", { cause: err });
    }
  };
  return async function idempotent(ctx: Context, next: Next): Promise<void> {
    const header = ctx.get("Idempotency-Key");
    if (!header) return next();
    const value = KEY_VALUE.exec(header)?.[1];
    if (!value) {
      throw new AppError(
        "bad_request",
        "Idempotency-Key: expected 1 to 255 visible ASCII characters (no quote inside)",
      );
    }
    const { apiKey } = ctx.state as ApiKeyState;
    const key = sha256(`${apiKey.id}\n${ctx.method}\n${ctx.path}\n${value}`);
    const fingerprint = fingerprintOf(ctx);
    const owner = randomUUID();
    const started = Date.now();
    for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
      const now = Date.now();
      const found = await stored(() =>
        opts.store.claim(key, { fingerprint, owner, expiresAt: now + RUNNING_LEASE_MS }, now),
      );
      if (!found) break;
      if (found.fingerprint !== fingerprint) {
        throw new AppError("idempotency_key_reused", "this Idempotency-Key was used with another request body");
      }
      if (found.answer) return replay(ctx, found.answer);
      if (now - started >= waitMs) {
        throw new AppError("idempotency_in_progress", "a request with this Idempotency-Key is still running", {
          retryAfterSeconds: 1,
        });
      }
      await sleep(delay);
    }
    const keep = (answer: KeptAnswer) =>
      opts.store.complete(key, owner, answer, started + IDEMPOTENCY_WINDOW_MS).catch((err: unknown) => {
        // The answer goes to the client all the same; a retry then finds the key running until its lease ends.
        opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, "could not keep an idempotent answer");
        return false;
      });
    const release = () => opts.store.release(key, owner).catch(() => undefined);
    try {
      await next();
    } catch (err) {
      const answer = answerFor(err);
      if (err instanceof AppError && kept(answer.status)) {
        await keep({ status: answer.status, headers: {}, body: "", error: { code: err.code, message: err.message } });
      } else {
        await release();
      }
      throw err;
    }
    if (kept(ctx.status)) await keep(keptAnswer(ctx));
    else await release();
  };
}
