import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { afterEach, describe, it } from "node:test";
import Koa from "koa";
import { bodyParser } from "@koa/bodyparser";
import { pino } from "pino";
import { AppError } from "../../src/errors.js";
import { errorResponses } from "../../src/http/errors.js";
import { idempotent } from "../../src/http/idempotency.js";
import type { IdempotencyStore } from "../../src/store/idempotency.js";
import { memoryIdempotency } from "../../src/store/memory/idempotency.js";

const log = pino({ level: "silent" });

/** A Koa app of one route behind `idempotent`, as a key of id K1 would reach it. */
async function serve(store: IdempotencyStore, handler: Koa.Middleware, waitMs?: number) {
  const app = new Koa();
  app.use(errorResponses(log));
  app.use(bodyParser({ enableTypes: ["json"] }));
  app.use(async (ctx, next) => {
    ctx.state.apiKey = { id: "K1" };
    await next();
  });
  app.use(idempotent({ store, log, ...(waitMs === undefined ? {} : { waitMs }) }));
  app.use(handler);
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const post = (base: string, body: unknown, key = "k") =>
  fetch(`${base}/invites/account`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "Idempotency-Key": key },
    body: JSON.stringify(body),
  });

describe("Idempotency-Key (src/http/idempotency.ts)", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it("a retry while the first runs waits for its answer; past the wait, 409 idempotency_in_progress with Retry-After", async () => {
    let runs = 0;
    const slow: Koa.Middleware = async (ctx) => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 400));
      ctx.status = 201;
      ctx.body = { run: runs };
    };
    const waiting = await serve(memoryIdempotency(), slow);
    server = waiting.server;
    const [a, b] = await Promise.all([post(waiting.base, { x: 1 }), post(waiting.base, { x: 1 })]);
    assert.deepEqual([a.status, b.status, runs], [201, 201, 1]);
    assert.deepEqual(await a.json(), await b.json());
    await new Promise<void>((resolve) => waiting.server.close(() => resolve()));

    const impatient = await serve(memoryIdempotency(), slow, 100);
    server = impatient.server;
    const first = post(impatient.base, { x: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const early = await post(impatient.base, { x: 1 });
    assert.equal(early.status, 409);
    assert.equal(early.headers.get("retry-after"), "1");
    assert.equal(((await early.json()) as { error: string }).error, "idempotency_in_progress");
    assert.equal((await first).status, 201);
  });

  it("a 5xx is not kept: the retry runs again; a 4xx is; the key names the route and the body, not the key order", async () => {
    let runs = 0;
    const flaky: Koa.Middleware = async (ctx) => {
      runs += 1;
      if (runs === 1) throw new AppError("xmpp_unavailable", "away");
      if ((ctx.request as { body?: { bad?: boolean } }).body?.bad) throw new AppError("user_exists", "taken");
      ctx.status = 201;
      ctx.body = { run: runs };
    };
    const app = await serve(memoryIdempotency(), flaky);
    server = app.server;
    assert.equal((await post(app.base, { a: 1, b: 2 })).status, 503);
    assert.equal((await post(app.base, { b: 2, a: 1 })).status, 201);
    assert.equal((await post(app.base, { a: 1, b: 2 })).status, 201);
    assert.equal(runs, 2);
    assert.equal((await post(app.base, { bad: true }, "k2")).status, 409);
    const again = await post(app.base, { bad: true }, "k2");
    assert.deepEqual([again.status, again.headers.get("idempotent-replayed")], [409, "true"]);
    assert.equal(((await again.json()) as { error: string }).error, "user_exists");
    assert.equal(runs, 3);
  });

  it("a store that fails is a 503, and the request does not run", async () => {
    let runs = 0;
    const broken: IdempotencyStore = {
      ...memoryIdempotency(),
      claim: () => Promise.reject(new Error("connection refused")),
    };
    const app = await serve(broken, async (ctx) => {
      runs += 1;
      ctx.status = 201;
    });
    server = app.server;
    const res = await post(app.base, {});
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: string }).error, "store_unavailable");
    assert.equal(runs, 0);
  });
});
