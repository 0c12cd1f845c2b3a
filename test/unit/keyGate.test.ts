import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import Keyv from "keyv";
import { pino } from "pino";
import { createHttpApp } from "../../src/http/server.js";
import { createKeyStore } from "../../src/keys/keyStore.js";
import { createMetrics, type Metrics } from "../../src/metrics/metrics.js";
import { createRateLimits } from "../../src/limits/rateLimits.js";
import type { InviteIssuer } from "../../src/xmpp/inviteIssuer.js";
import { fakeManager } from "../support/fakeManager.js";
import { withCharChanged } from "../support/tamper.js";

const issuer: InviteIssuer = {
  createAccountInvite: async () => ({ url: "https://e.test/i?T", uri: "xmpp:e.test?register;preauth=T", expires: "" }),
  createResetInvite: async () => ({ url: "https://e.test/i?T", uri: "xmpp:e.test?register;preauth=T", expires: "" }),
};

interface Side {
  base: string;
  server: Server;
  metrics: Metrics;
  lines: Array<Record<string, unknown>>;
  stopping: { now: boolean };
  /** Requests that reached Koa's middleware. */
  koa: { requests: number };
}

/** The same service twice: once with the key gate in front of Koa, once without. */
async function side(gate: boolean, key: { host: string; store: Keyv }): Promise<Side> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const metrics = createMetrics({ xmppOnline: () => true });
  const stopping = { now: false };
  const koa = { requests: 0 };
  const app = createHttpApp({
    gate,
    keys: createKeyStore(key.store),
    metrics,
    limits: createRateLimits({ defaultKeyRate: undefined, failureLimit: { points: 3, durationSeconds: 60 } }),
    issuer,
    manager: fakeManager().manager,
    log: pino({ level: "info" }, sink),
    xmppStatus: () => ({ online: true }),
    stopping: () => stopping.now,
    trustedProxies: 1,
  });
  app.middleware.unshift(async (_ctx, next) => {
    koa.requests += 1;
    await next();
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, server, metrics, lines, stopping, koa };
}

// What a client sees, less what differs between any two answers (the date).
async function seen(res: Response) {
  const headers = [...res.headers].filter(([name]) => name !== "date" && name !== "keep-alive");
  return { status: res.status, headers: headers.sort(), body: await res.text() };
}

describe("the key gate answers bad keys exactly as Koa's middleware would", () => {
  const store = new Keyv();
  let gated: Side;
  let plain: Side;
  let key: string;

  before(async () => {
    key = (await createKeyStore(store).create("e.test", { name: "k" })).key;
    gated = await side(true, { host: "e.test", store });
    plain = await side(false, { host: "e.test", store });
  });
  after(async () => {
    await new Promise((resolve) => gated.server.close(resolve));
    await new Promise((resolve) => plain.server.close(resolve));
  });

  it("the same status, headers and body for every refusal, in text and JSON, stopping or not", async () => {
    const wrong = withCharChanged(key, key.length - 1);
    const requests: Array<[string, RequestInit]> = [
      ["/invites_api", {}],
      ["/invites_api?key=nope", {}],
      [`/invites_api?key=${wrong}`, { method: "POST" }],
      [`/invites_api?key=${key}&key=${key}`, {}],
      ["/invites_api", { headers: { Authorization: "Basic abc" } }],
      ["/invites_api", { headers: { Authorization: `Bearer ${wrong}`, Accept: "application/json" } }],
      ["/invites_api?key=nope", { headers: { Accept: "application/json, text/plain;q=0.5" } }],
    ];
    for (const stopping of [false, true]) {
      gated.stopping.now = plain.stopping.now = stopping;
      for (const [path, init] of requests) {
        // Each from its own address, so that the failed-attempt limit is the same on both sides.
        for (const from of ["198.51.100.1", "198.51.100.2", "198.51.100.2", "198.51.100.2", "198.51.100.2"]) {
          const headers = {
            ...(init.headers as Record<string, string>),
            "X-Forwarded-For": `${from}${path}${stopping}`,
          };
          const a = await seen(await fetch(`${gated.base}${path}`, { ...init, headers }));
          const b = await seen(await fetch(`${plain.base}${path}`, { ...init, headers }));
          assert.deepEqual(a, b, `${init.method ?? "GET"} ${path} ${JSON.stringify(init.headers)}`);
        }
      }
    }
    gated.stopping.now = plain.stopping.now = false;
    // Without the gate every refusal went through Koa; with it, none did.
    assert.equal(plain.koa.requests, 2 * requests.length * 5);
    assert.equal(gated.koa.requests, 0);
  });

  it("the same access lines and metrics; a good key still gets its invite", async () => {
    const ok = await fetch(`${gated.base}/invites_api?key=${key}`, { redirect: "manual" });
    assert.equal(ok.status, 201);
    await fetch(`${plain.base}/invites_api?key=${key}`, { redirect: "manual" });
    const access = (side: Side) =>
      side.lines
        .filter((line) => line.msg === "request")
        .map((line) => {
          const { id, method, url } = line.req as Record<string, unknown>;
          return [id, method, url, (line.res as Record<string, unknown>).statusCode, line.remoteAddress];
        });
    assert.ok(access(gated).length > 30);
    assert.deepEqual(access(gated), access(plain));
    const counters = async (side: Side) =>
      (await side.metrics.registry.metrics())
        .split("\n")
        .filter((line) => /^invites_api_(http_requests|auth_failures|rate_limited)_total/.test(line));
    assert.deepEqual(await counters(gated), await counters(plain));
  });
});

describe("a key store failure in the gate", () => {
  it("goes on to Koa, which answers 503 without asking the store again", async () => {
    const store = new Keyv();
    const key = (await createKeyStore(store).create("e.test", { name: "k" })).key;
    let reads = 0;
    store.get = (async () => {
      reads += 1;
      throw new Error("store away");
    }) as Keyv["get"];
    const gated = await side(true, { host: "e.test", store });
    try {
      const res = await fetch(`${gated.base}/invites_api?key=${key}`, { headers: { Accept: "application/json" } });
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { error: string }).error, "store_unavailable");
      assert.equal(gated.koa.requests, 1, "Koa answers it");
      assert.equal(reads, 1, "the key is read once");
    } finally {
      await new Promise((resolve) => gated.server.close(resolve));
    }
  });
});
