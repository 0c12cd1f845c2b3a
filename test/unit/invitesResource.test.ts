import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { after, before, describe, it } from "node:test";
import Keyv from "keyv";
import { pino } from "pino";
import { createHttpApp } from "../../src/http/server.js";
import { redactUrl } from "../../src/http/accessLog.js";
import { createKeyStore, KEY_SCOPES, type KeyOptions, type KeyStore } from "../../src/keys/keyStore.js";
import { POWERS, SCOPE_POWERS, type Power } from "../../src/keys/powers.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { createRateLimits } from "../../src/limits/rateLimits.js";
import type { InviteIssuer } from "../../src/xmpp/inviteIssuer.js";
import { fakeControls } from "../support/fakeControls.js";
import { fakeManager } from "../support/fakeManager.js";

const HOST = "e.test";
const invite = { url: "https://e.test/invite?T", uri: "xmpp:e.test?register;preauth=T", expires: "" };
const issuer: InviteIssuer = {
  createAccountInvite: () => Promise.resolve(invite),
  createResetInvite: () => Promise.resolve(invite),
};

describe("the /invites resource, with a fake mod_invites_manage", () => {
  let server: Server;
  let base: string;
  let keys: KeyStore;
  let fake: ReturnType<typeof fakeManager>;

  before(async () => {
    keys = createKeyStore(new Keyv());
    fake = fakeManager();
    server = createHttpApp({
      controls: fakeControls((host, id) => fake.manager.show(host, id)).controls,
      keys,
      metrics: createMetrics({ xmppOnline: () => true }),
      limits: createRateLimits({ defaultKeyRate: undefined, failureLimit: undefined }),
      issuer,
      manager: fake.manager,
      log: pino({ level: "silent" }),
      xmppStatus: () => ({ online: true }),
    }).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  // Every power unless a test asks for less.
  const keyFor = async (options: KeyOptions = { scopes: ["manage"] }, host = HOST) =>
    (await keys.create(host, options)).key;
  const call = (path: string, key: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    const headers: Record<string, string> = { Authorization: `Bearer ${key}` };
    if (json !== undefined) headers["Content-Type"] = "application/json";
    return fetch(`${base}${path}`, {
      ...rest,
      headers: { ...headers, ...(rest.headers as Record<string, string>) },
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
  };
  const lastCall = () => fake.calls.at(-1);

  it("POST /invites/account: 201, the invite in mod_http_admin_api's fields, Location naming it", async () => {
    const key = await keyFor();
    const res = await call("/invites/account", key, {
      method: "POST",
      json: { username: "alice", ttl: 3600, roles: ["prosody:registered"], groups: ["team"], note: "for Alice" },
    });
    assert.equal(res.status, 201);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), [
      "closed_at",
      "created_at",
      "created_by",
      "expires",
      "groups",
      "id",
      "inviter",
      "jid",
      "landing_page",
      "max_uses",
      "note",
      "ref",
      "reset",
      "reusable",
      "revoked_by",
      "roles",
      "source",
      "state",
      "type",
      "uri",
      "uses",
    ]);
    assert.equal(res.headers.get("location"), `/invites/${String(body.id)}`);
    assert.equal(body.jid, "alice@e.test");
    assert.equal((body.expires as number) - (body.created_at as number), 3600);
    assert.equal(body.created_by, `key:${key.split("/")[0]}`);
    assert.equal(body.revoked_by, null, "not revoked");
    assert.deepEqual(lastCall()?.args, {
      username: "alice",
      ttl: 3600,
      roles: ["prosody:registered"],
      groups: ["team"],
      note: "for Alice",
      source: `invites-api/${key.split("/")[0]}`,
    });
  });

  it("POST /invites/group and /invites/reset reach their commands; an empty body is a plain account invite", async () => {
    const key = await keyFor();
    const group = await call("/invites/group", key, { method: "POST", json: { groups: ["team"] } });
    assert.equal(group.status, 201);
    assert.equal(((await group.json()) as { reusable: boolean }).reusable, true);
    assert.equal(lastCall()?.op, "group");
    const reset = await call("/invites/reset", key, { method: "POST", json: { username: "bob" } });
    assert.equal(reset.status, 201);
    assert.equal(((await reset.json()) as { reset: boolean }).reset, true);
    assert.equal(lastCall()?.op, "reset");
    const plain = await call("/invites/account", key, { method: "POST" });
    assert.equal(plain.status, 201);
    assert.deepEqual(lastCall()?.args, { ttl: undefined, source: `invites-api/${key.split("/")[0]}` });
  });

  it("answers a client's mistakes with 400/415 in JSON, naming the field, and asks Prosody nothing", async () => {
    const key = await keyFor();
    const before = fake.calls.length;
    const cases: Array<[string, unknown, RegExp]> = [
      ["/invites/account", { ttl: -5 }, /^ttl: /],
      ["/invites/account", { ttl: 1.5 }, /^ttl: /],
      ["/invites/account", { usernme: "typo" }, /usernme/],
      ["/invites/account", { username: "a@b" }, /^username: /],
      ["/invites/account", { note: "line\nbreak" }, /^note: /],
      ["/invites/group", {}, /^groups: /],
      ["/invites/group", { groups: [] }, /^groups: /],
      ["/invites/reset", { ttl: 60 }, /^username: /],
      ["/invites/account", ["not", "an", "object"], /^the body must be a JSON object$/],
      ["/invites/account", { ttl: 1e12 }, /^ttl: expected a whole number of seconds from 1 to 3153600000/],
      ["/invites/account", { ttl: "abc" }, /^ttl: expected a whole number of seconds/],
      ["/invites/account", { frobnicate: 1 }, /^unknown field: frobnicate$/],
      ["/invites/group", { groups: ["team"], max_uses: 0 }, /^max_uses: expected a whole number from 1 to 1000000$/],
    ];
    for (const [path, json, message] of cases) {
      const res = await call(path, key, { method: "POST", json });
      assert.equal(res.status, 400, `${path} ${JSON.stringify(json)}`);
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(body.error, "bad_request");
      assert.match(body.message, message);
      // The project's words, never the validator's.
      assert.doesNotMatch(body.message, /Invalid input|Too big|Too small|received|<=|>=|NaN/);
    }
    // A body that is not JSON, sent as JSON (400), and a form (415).
    const raw: Array<[string, string, number, string]> = [
      ["application/json", "{nope", 400, "invalid_json"],
      ["application/json", JSON.stringify({ note: "x".repeat(17 * 1024) }), 413, "payload_too_large"],
      ["application/x-www-form-urlencoded", "username=alice", 415, "unsupported_media_type"],
    ];
    for (const [type, body, status, error] of raw) {
      const res = await call("/invites/account", key, { method: "POST", headers: { "Content-Type": type }, body });
      assert.equal(res.status, status, type);
      const answer = (await res.json()) as { error: string; message: string };
      assert.equal(answer.error, error);
      // A body over the limit: the message names this route's limit.
      if (status === 413) assert.equal(answer.message, "the body is too large: this route takes at most 16 KiB");
    }
    assert.equal(fake.calls.length, before);
  });

  it("scope: a create key may not list, show or revoke (403); a manage key may, on its own host only", async () => {
    const creator = await keyFor({ scopes: ["create"] });
    const manager = await keyFor({ scopes: ["manage"] });
    const created = (await (await call("/invites/account", creator, { method: "POST" })).json()) as { id: string };
    for (const [method, path] of [
      ["GET", "/invites"],
      ["GET", `/invites/${created.id}`],
      ["DELETE", `/invites/${created.id}`],
    ] as const) {
      const res = await call(path, creator, { method });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(((await res.json()) as { error: string }).error, "insufficient_scope");
    }
    const list = (await (await call("/invites", manager)).json()) as Array<{ id: string }>;
    assert.ok(list.some((invite) => invite.id === created.id));
    assert.equal((await call(`/invites/${created.id}`, manager)).status, 200);
    const elsewhere = await keyFor({ scopes: ["manage"] }, "other.test");
    assert.equal((await call(`/invites/${created.id}`, elsewhere)).status, 404);
    assert.equal((await call(`/invites/${created.id}`, elsewhere, { method: "DELETE" })).status, 404);
    assert.ok(((await (await call("/invites", elsewhere)).json()) as unknown[]).length === 0);
    const revoked = await call(`/invites/${created.id}`, manager, { method: "DELETE" });
    assert.equal(revoked.status, 204);
    assert.equal(lastCall()?.args, `invites-api/${manager.split("/")[0]}`, "the module is told who revoked it");
    assert.equal((await call(`/invites/${created.id}`, manager)).status, 404);
    const junk = await call("/invites/not%20a%20token", manager);
    assert.equal(junk.status, 404);
    assert.equal(((await junk.json()) as { error: string }).error, "invite_not_found");
  });

  it("--max-ttl: the ttl when none is given; a longer one is a 400, here and on /invites_api", async () => {
    const key = await keyFor({ maxTtlSeconds: 3600, scopes: ["manage"] });
    assert.equal((await call("/invites/account", key, { method: "POST" })).status, 201);
    assert.equal((lastCall()?.args as { ttl?: number }).ttl, 3600);
    assert.equal((await call("/invites/group", key, { method: "POST", json: { groups: ["g"], ttl: 60 } })).status, 201);
    assert.equal((lastCall()?.args as { ttl?: number }).ttl, 60);
    const tooLong = await call("/invites/account", key, { method: "POST", json: { ttl: 3601 } });
    assert.equal(tooLong.status, 400);
    assert.match(((await tooLong.json()) as { message: string }).message, /at most 3600 seconds/);
    const legacy = await fetch(`${base}/invites_api?key=${key}&ttl=7200`, { method: "POST" });
    assert.equal(legacy.status, 400);
    assert.match(await legacy.text(), /at most 3600/);
  });

  it("--max-invites counts the invites of the resource too, and forbids reusable invites", async () => {
    const key = await keyFor({ maxInvites: 1, scopes: ["create", "reset"] });
    assert.equal((await call("/invites/account", key, { method: "POST" })).status, 201);
    const second = await call("/invites/reset", key, { method: "POST", json: { username: "bob" } });
    assert.equal(second.status, 403);
    assert.equal(((await second.json()) as { error: string }).error, "key_exhausted");
    // Even a manage key (made before the CLI refused the pair): uses of a group invite are not counted.
    const manager = await keyFor({ maxInvites: 5, scopes: ["manage"] });
    const before = fake.calls.length;
    const group = await call("/invites/group", manager, { method: "POST", json: { groups: ["g"] } });
    assert.equal(group.status, 403);
    const body = (await group.json()) as { error: string; message: string };
    assert.equal(body.error, "insufficient_scope");
    assert.match(body.message, /max-invites/);
    assert.equal(fake.calls.length, before);
  });

  it("each scope has exactly the powers of SCOPE_POWERS, on every route", async () => {
    const invite = (await (await call("/invites/account", await keyFor(), { method: "POST" })).json()) as {
      id: string;
    };
    const routes: Record<Power, () => [string, RequestInit & { json?: unknown }]> = {
      account: () => ["/invites/account", { method: "POST" }],
      group: () => ["/invites/group", { method: "POST", json: { groups: ["g"] } }],
      reset: () => ["/invites/reset", { method: "POST", json: { username: "bob" } }],
      list: () => ["/invites", {}],
      // A token no invite has: a key with the power gets 404, one without it 403.
      revoke: () => ["/invites/NoSuchToken", { method: "DELETE" }],
      update: () => ["/invites/NoSuchToken", { method: "PATCH", json: { note: "x" } }],
      budget: () => ["/budget", {}],
    };
    for (const scope of KEY_SCOPES) {
      const key = await keyFor({ scopes: [scope] });
      for (const power of POWERS) {
        const [path, init] = routes[power]();
        const res = await call(path, key, init);
        const allowed = (SCOPE_POWERS[scope] as readonly Power[]).includes(power);
        if (allowed) assert.ok(res.status === 201 || res.status === 200 || res.status === 404, `${scope} ${power}`);
        else {
          assert.equal(res.status, 403, `${scope} may not ${power}`);
          assert.equal(((await res.json()) as { error: string }).error, "insufficient_scope");
        }
      }
      // Showing is part of listing.
      const show = await call(`/invites/${invite.id}`, key);
      assert.equal(show.status, (SCOPE_POWERS[scope] as readonly Power[]).includes("list") ? 200 : 403, scope);
    }
    // /invites_api: an account invite needs "account", a reset "reset".
    for (const [scope, account, reset] of [
      ["create", 201, 403],
      ["reset", 403, 201],
      ["group", 403, 403],
    ] as const) {
      const key = await keyFor({ scopes: [scope] });
      assert.equal((await fetch(`${base}/invites_api?key=${key}`, { method: "POST" })).status, account, scope);
      const res = await fetch(`${base}/invites_api?key=${key}&type=reset&username=bob`, { method: "POST" });
      assert.equal(res.status, reset, `${scope} reset`);
    }
  });

  it("GET /invites/options: any key, its own powers, the host's groups and roles, ttl bounds within its --max-ttl", async () => {
    const manage = await call("/invites/options", await keyFor());
    assert.equal(manage.status, 200);
    const body = (await manage.json()) as Record<string, unknown>;
    assert.deepEqual(
      { ...body, key: "" },
      {
        host: HOST,
        key: "",
        scopes: ["manage"],
        can: ["account", "group", "reset", "list", "revoke", "update", "budget"],
        groups: [{ id: "team", name: "Team" }],
        roles: ["prosody:member"],
        max_ttl: 2_592_000,
        default_ttl: { account: 604_800, group: 604_800, reset: 86_400 },
      },
    );
    assert.equal(lastCall()?.op, "options");
    const options = async (o: KeyOptions) =>
      (await (await call("/invites/options", await keyFor(o))).json()) as {
        can: string[];
        max_ttl: number;
        default_ttl: object;
      };
    assert.deepEqual((await options({ scopes: ["create"] })).can, ["account"]);
    assert.deepEqual((await options({ scopes: ["group", "reset"] })).can, ["group", "reset"]);
    // A manage key with --max-invites (made before the CLI refused the pair) is offered no group invite.
    assert.deepEqual((await options({ scopes: ["manage"], maxInvites: 3 })).can, [
      "account",
      "reset",
      "list",
      "revoke",
      "update",
      "budget",
    ]);
    const short = await options({ scopes: ["manage"], maxTtlSeconds: 3_600 });
    assert.deepEqual([short.max_ttl, short.default_ttl], [3_600, { account: 3_600, group: 3_600, reset: 3_600 }]);
    const post = await call("/invites/options", await keyFor(), { method: "POST" });
    assert.deepEqual([post.status, post.headers.get("allow")], [405, "GET"]);
  });

  it("405 with Allow for other methods; 403 in JSON without a valid key", async () => {
    const key = await keyFor({ scopes: ["manage"] });
    const cases: Array<[string, string, string]> = [
      ["GET", "/invites/account", "POST"],
      ["PUT", "/invites/group", "POST"],
      ["POST", "/invites", "GET"],
      ["PUT", "/invites/tok1", "GET, PATCH, DELETE"],
      ["POST", "/invites/tok1", "GET, PATCH, DELETE"],
      ["GET", "/invites/batch", "POST"],
      ["POST", "/budget", "GET, PATCH"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await call(path, key, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get("allow"), allow);
    }
    const res = await fetch(`${base}/invites`, { headers: { Authorization: "Bearer nope/nope" } });
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), { error: "invalid_key", message: "invalid API key" });
  });

  it("without the module on the host: 501 naming what to load where", async () => {
    const key = await keyFor({ scopes: ["manage"] });
    fake.state.loaded = false;
    try {
      const res = await call("/invites/account", key, { method: "POST" });
      assert.equal(res.status, 501);
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(body.error, "not_implemented");
      assert.match(body.message, /invites_manage.*e\.test/);
    } finally {
      fake.state.loaded = true;
    }
  });

  it("the access log never shows an invite's id", () => {
    assert.equal(redactUrl("/invites/AbC-_123"), "/invites/[id]");
    assert.equal(redactUrl("/invites/AbC-_123?x=1"), "/invites/[id]?x=[redacted]");
    assert.equal(redactUrl("//invites/a/b"), "//invites/[id]");
    assert.equal(redactUrl("/invites/account"), "/invites/account");
    assert.equal(redactUrl("/invites/options"), "/invites/options");
    assert.equal(redactUrl("/invites_api?ttl=60&key=a/b"), "/invites_api?ttl=60&key=[redacted]");
    // Absolute-form targets are routed by their path, so they are logged by it.
    assert.equal(redactUrl("http://e.test/invites/AbC-_123"), "/invites/[id]");
    assert.equal(redactUrl("HTTP://e.test:8080/INVITES/AbC?key=a/b"), "/INVITES/[id]?key=[redacted]");
    assert.equal(redactUrl("http://e.test"), "");
  });
});
