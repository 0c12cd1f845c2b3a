import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { after, before, beforeEach, describe, it } from "node:test";
import Keyv from "keyv";
import { pino } from "pino";
import { createHttpApp } from "../../src/http/server.js";
import { createKeyStore, type KeyStore } from "../../src/keys/keyStore.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { createRateLimits } from "../../src/limits/rateLimits.js";
import type { Invite, InviteIssuer } from "../../src/xmpp/inviteIssuer.js";
import type { ConnectionStatus } from "../../src/xmpp/connection.js";
import {
  ProsodyBadReplyError,
  ProsodyRefusedError,
  XmppTimeoutError,
  XmppUnavailableError,
} from "../../src/xmpp/errors.js";
import { withCharChanged } from "../support/tamper.js";
import { fakeManager } from "../support/fakeManager.js";

const INVITE: Invite = { url: "https://e.test/invites_page?T", uri: "xmpp:e.test?register;preauth=T", expires: "" };

/** A fake issuer: records the hosts it was asked for and answers with `next`. */
function fakeIssuer() {
  const calls: string[] = [];
  let next: () => Promise<Invite> = async () => INVITE;
  const issuer: InviteIssuer = {
    createAccountInvite: (host) => {
      calls.push(host);
      return next();
    },
    createResetInvite: (host, username) => {
      calls.push(`reset ${username}@${host}`);
      return next();
    },
  };
  return { issuer, calls, answer: (fn: () => Promise<Invite>) => (next = fn) };
}

/** A Map that fails on demand, to stand for a key store that breaks while the service runs. */
class FlakyMap<K, V> extends Map<K, V> {
  broken = false;
  override get(key: K): V | undefined {
    if (this.broken) throw new Error("SQLITE_IOERR: disk I/O error");
    return super.get(key);
  }
  override has(key: K): boolean {
    if (this.broken) throw new Error("SQLITE_IOERR: disk I/O error");
    return super.has(key);
  }
}

describe("HTTP API with a fake issuer", () => {
  let server: Server;
  const storeMap = new FlakyMap<string, unknown>();
  let xmpp: ConnectionStatus = { online: true };
  let base: string;
  let keys: KeyStore;
  let fake: ReturnType<typeof fakeIssuer>;
  let key: string;

  before(async () => {
    keys = createKeyStore(new Keyv({ store: storeMap }));
    fake = fakeIssuer();
    server = createHttpApp({
      keys,
      metrics: createMetrics({ xmppOnline: () => true }),
      limits: createRateLimits({ defaultKeyRate: undefined, failureLimit: undefined }),
      issuer: fake.issuer,
      manager: fakeManager().manager,
      log: pino({ level: "silent" }),
      xmppStatus: () => xmpp,
    }).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    key = (await keys.create("e.test", { name: "k", scopes: ["create", "reset"] })).key;
  });
  after(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => {
    storeMap.broken = false;
    xmpp = { online: true };
    fake.calls.length = 0;
    fake.answer(async () => INVITE);
  });

  const get = (query: string, init: RequestInit = {}) =>
    fetch(`${base}/invites_api${query}`, { redirect: "manual", ...init });

  it("201 with Location and an empty body, for the key's host", async () => {
    const res = await get(`?key=${key}`);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("location"), INVITE.url);
    assert.equal(await res.text(), "");
    assert.deepEqual(fake.calls, ["e.test"]);
  });

  it("303 with any redirect parameter", async () => {
    const res = await get(`?key=${key}&redirect=0`);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), INVITE.url);
  });

  it("prefers the Authorization header, like the original", async () => {
    const res = await get(`?key=${key}`, { headers: { Authorization: "Basic Zm9vOmJhcg==" } });
    assert.equal(res.status, 403);
    assert.deepEqual(fake.calls, []);
  });

  it("400 for a repeated key parameter, without asking the issuer", async () => {
    const res = await get(`?key=${key}&key=${key}`);
    assert.equal(res.status, 400);
    assert.deepEqual(fake.calls, []);
  });

  it("403 for keys of every wrong shape, without asking the issuer", async () => {
    for (const query of ["", "?key=", "?key=%E9%E9", "?key=%", `?key=${withCharChanged(key)}`, `?key=${key}x`]) {
      assert.equal((await get(query)).status, 403, query);
    }
    assert.deepEqual(fake.calls, []);
  });

  it("405 for a method the key does not allow, and for other methods", async () => {
    const getOnly = (await keys.create("e.test", { methods: ["GET"] })).key;
    const post = await get("", { method: "POST", headers: { Authorization: `Bearer ${getOnly}` } });
    assert.equal(post.status, 405);
    assert.equal((await get(`?key=${key}`, { method: "PUT" })).status, 405);
    assert.equal((await get(`?key=${key}`, { method: "DELETE" })).status, 405);
    assert.deepEqual(fake.calls, []);
  });

  const failures = [
    [new XmppUnavailableError(), 503],
    [new XmppTimeoutError("e.test", 10), 504],
    [new ProsodyRefusedError("e.test", "forbidden", "add the component to admins"), 502],
    [new ProsodyBadReplyError("e.test", "garbage"), 502],
    [new Error("surprise at /srv/app.js:12"), 500],
  ] as const;
  for (const [error, status] of failures) {
    it(`${status} for ${error.name}, with a short message and no internals`, async () => {
      fake.answer(async () => {
        throw error;
      });
      const res = await get(`?key=${key}`);
      assert.equal(res.status, status);
      const body = await res.text();
      assert.ok(body.length < 80, body);
      assert.doesNotMatch(body, /at |\.js|forbidden|admins|garbage|e\.test/);
      if (status === 503) assert.ok(res.headers.get("retry-after"));
      assert.equal(res.headers.get("access-control-allow-origin"), "*", "CORS on errors too");
    });
  }

  it("503 with Retry-After when the key store fails, without asking the issuer", async () => {
    storeMap.broken = true;
    const res = await get(`?key=${key}`);
    assert.equal(res.status, 503);
    assert.ok(res.headers.get("retry-after"));
    assert.doesNotMatch(await res.text(), /SQLITE/);
    assert.deepEqual(fake.calls, []);
  });

  it("/health answers without a key", async () => {
    const res = await fetch(`${base}/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok" });
  });

  it("/ready is 200 when XMPP and the store are up, 503 naming the part that is down", async () => {
    assert.deepEqual(await (await fetch(`${base}/ready`)).json(), {
      ready: true,
      xmpp: { ok: true },
      store: { ok: true },
    });
    xmpp = { online: false, problem: "cannot reach Prosody" };
    let res = await fetch(`${base}/ready`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), {
      ready: false,
      xmpp: { ok: false, problem: "cannot reach Prosody" },
      store: { ok: true },
    });
    xmpp = { online: true };
    storeMap.broken = true;
    res = await fetch(`${base}/ready`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { store: { ok: boolean } };
    assert.equal(body.store.ok, false);
  });

  it("answers JSON when asked: the invite on 201, {error, message} on errors", async () => {
    const json = { headers: { Accept: "application/json" } };
    const ok = await get(`?key=${key}`, json);
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.get("location"), INVITE.url);
    assert.deepEqual(await ok.json(), { url: INVITE.url, uri: INVITE.uri, expires: INVITE.expires });
    const refused = await get("?key=nope", json);
    assert.equal(refused.status, 403);
    assert.deepEqual(await refused.json(), { error: "invalid_key", message: "invalid API key" });
    const missing = await fetch(`${base}/nope`, json);
    assert.deepEqual(await missing.json(), { error: "not_found", message: "not found" });
    const odd = await get("", { method: "PUT", ...json });
    assert.equal(odd.status, 405);
    assert.equal(((await odd.json()) as { error: string }).error, "method_not_allowed");
  });

  it("keeps the plain answers by default, also for Accept: */*", async () => {
    const res = await get(`?key=${key}`, { headers: { Accept: "*/*" } });
    assert.equal(await res.text(), "");
  });

  it("issues a password-reset invite on POST ?type=reset&username=NAME", async () => {
    const res = await get(`?type=reset&username=alice`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}` },
    });
    assert.equal(res.status, 201);
    assert.deepEqual(fake.calls, ["reset alice@e.test"]);
  });

  it("400 for a reset by GET, without a username, with a bad one, or an unknown type", async () => {
    const post = { method: "POST", headers: { Authorization: `Bearer ${key}` } };
    assert.equal((await get(`?key=${key}&type=reset&username=alice`)).status, 400);
    assert.equal((await get(`?type=reset`, post)).status, 400);
    assert.equal((await get(`?type=reset&username=a%40b`, post)).status, 400);
    assert.equal((await get(`?type=reset&username=a%20b`, post)).status, 400);
    assert.equal((await get(`?type=friend`, post)).status, 400);
    assert.deepEqual(fake.calls, []);
  });

  it("serves Prometheus metrics counting requests by route and status, and auth failures", async () => {
    await get("?key=nope");
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /invites_api_http_requests_total\{route="\/invites_api",method="GET",status="403"\} \d+/);
    assert.match(text, /invites_api_auth_failures_total\{reason="invalid_key"\} \d+/);
    assert.match(text, /invites_api_xmpp_connected 1/);
  });

  it("serves its OpenAPI document", async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: object };
    assert.equal(doc.openapi, "3.1.0");
    assert.ok("/invites_api" in doc.paths);
  });

  it("404 elsewhere", async () => {
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });
});
