import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { after, before, beforeEach, describe, it } from "node:test";
import Keyv from "keyv";
import { pino } from "pino";
import { AppError } from "../../src/errors.js";
import { createHttpApp } from "../../src/http/server.js";
import { createKeyStore, type KeyOptions, type KeyStore } from "../../src/keys/keyStore.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { createRateLimits } from "../../src/limits/rateLimits.js";
import { memoryIdempotency } from "../../src/store/memory/idempotency.js";
import type { EventSink } from "../../src/webhooks/sink.js";
import type { InviteIssuer } from "../../src/xmpp/inviteIssuer.js";
import type { InviteManager } from "../../src/xmpp/inviteManager.js";
import { fakeControls } from "../support/fakeControls.js";
import { fakeManager } from "../support/fakeManager.js";

const HOST = "e.test";
const issuer: InviteIssuer = {
  createAccountInvite: () => Promise.reject(new Error("not here")),
  createResetInvite: () => Promise.reject(new Error("not here")),
};

/**
 * Issue 30's routes over a fake mod_invites_manage: PATCH /invites/{id}, GET and PATCH /budget,
 * POST /invites/batch, and Idempotency-Key on the routes that create.
 */
describe("operator controls, batches and idempotent retries, with a fake mod_invites_manage", () => {
  let server: Server;
  let base: string;
  let keys: KeyStore;
  let fake: ReturnType<typeof fakeManager>;
  let controls: ReturnType<typeof fakeControls>;
  const events: Array<{ type: string; data: Record<string, unknown> }> = [];
  // Each create waits this long, so that retries can overlap the first.
  let delayMs = 0;

  before(async () => {
    keys = createKeyStore(new Keyv());
    fake = fakeManager();
    controls = fakeControls((host, id) => fake.manager.show(host, id));
    const slow =
      <A extends unknown[], R>(work: (...args: A) => Promise<R>) =>
      async (...args: A) => {
        if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
        return work(...args);
      };
    const manager: InviteManager = {
      ...fake.manager,
      createAccount: slow(fake.manager.createAccount),
      createReset: slow(async (host, invite) => {
        if (invite.username === "nobody") throw new AppError("user_not_found", "no account nobody");
        return fake.manager.createReset(host, invite);
      }),
    };
    const sink: EventSink = {
      emit: async (type, data) => void events.push({ type, data }),
      emitMany: async (type, list) => void events.push(...list.map((data) => ({ type, data }))),
    };
    server = createHttpApp({
      keys,
      metrics: createMetrics({ xmppOnline: () => true }),
      limits: createRateLimits({ defaultKeyRate: undefined, failureLimit: undefined }),
      issuer,
      manager,
      controls: controls.controls,
      idempotency: memoryIdempotency(),
      events: sink,
      log: pino({ level: "silent" }),
      xmppStatus: () => ({ online: true }),
    }).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => {
    events.length = 0;
    delayMs = 0;
  });

  const keyFor = async (options: KeyOptions = { scopes: ["manage"] }) => (await keys.create(HOST, options)).key;
  const call = (path: string, key: string, init: { method?: string; json?: unknown; headers?: object } = {}) =>
    fetch(`${base}${path}`, {
      method: init.method ?? "GET",
      headers: {
        Authorization: `Bearer ${key}`,
        ...(init.json !== undefined ? { "Content-Type": "application/json" } : {}),
        ...init.headers,
      },
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    });
  const made = () => fake.calls.filter((c) => ["account", "group", "reset"].includes(c.op) && c.args).length;
  const errorOf = async (res: Response) => (await res.json()) as { error: string; message: string };

  describe("PATCH /invites/{id}", () => {
    it("changes ttl, max_uses and note of a pending invite and answers it with the same link", async () => {
      const key = await keyFor();
      const group = (await (
        await call("/invites/group", key, { method: "POST", json: { groups: ["team"], max_uses: 3, note: "n" } })
      ).json()) as { id: string; uri: string };
      const res = await call(`/invites/${group.id}`, key, { method: "PATCH", json: { ttl: 600, max_uses: 10 } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { id: string; uri: string; max_uses: number; note: string; expires: number };
      assert.deepEqual([body.id, body.uri, body.max_uses, body.note], [group.id, group.uri, 10, "n"]);
      assert.equal(body.expires, 1_700_000_600);
      const last = controls.calls.at(-1);
      assert.deepEqual(last?.args, { ttl: 600, maxUses: 10 });
      assert.equal(last?.actor, `invites-api/${key.split("/")[0]}`);
      const cleared = await call(`/invites/${group.id}`, key, {
        method: "PATCH",
        json: { max_uses: null, note: null },
      });
      assert.deepEqual(controls.calls.at(-1)?.args, { maxUses: null, note: null });
      const after = (await cleared.json()) as { max_uses: unknown; note: unknown };
      assert.deepEqual([after.max_uses, after.note], [null, null]);
    });

    it("400 for nothing to change, an unknown field, a bad value or a ttl over the key's --max-ttl; 404, 403", async () => {
      const key = await keyFor({ scopes: ["manage"], maxTtlSeconds: 3_600 });
      const { id } = (await (await call("/invites/account", key, { method: "POST" })).json()) as { id: string };
      const before = controls.calls.length;
      for (const [json, message] of [
        [{}, /^give ttl, max_uses or note/],
        [{ colour: "red" }, /^unknown field: colour$/],
        [{ ttl: 0 }, /^ttl: expected/],
        [{ max_uses: 0 }, /^max_uses: expected/],
        [{ note: "a\u0000b" }, /^note: expected/],
        [{ ttl: 7_200 }, /at most 3600 seconds/],
      ] as const) {
        const res = await call(`/invites/${id}`, key, { method: "PATCH", json });
        assert.equal(res.status, 400, JSON.stringify(json));
        assert.match((await errorOf(res)).message, message);
      }
      assert.equal(controls.calls.length, before, "nothing reached Prosody");
      const missing = await call("/invites/NoSuchInvite", key, { method: "PATCH", json: { note: "x" } });
      assert.deepEqual([missing.status, (await errorOf(missing)).error], [404, "invite_not_found"]);
      const creator = await keyFor({ scopes: ["create", "group", "reset"] });
      const refused = await call(`/invites/${id}`, creator, { method: "PATCH", json: { note: "x" } });
      assert.deepEqual([refused.status, (await errorOf(refused)).error], [403, "insufficient_scope"]);
    });
  });

  describe("GET and PATCH /budget", () => {
    it("reads the host's budget, sets it from N/PERIOD or {count, window_seconds}, removes it, pauses", async () => {
      const key = await keyFor();
      assert.deepEqual(await (await call("/budget", key)).json(), {
        host: HOST,
        limit: null,
        paused: false,
        used: 0,
        resets_at: null,
      });
      const set = await call("/budget", key, { method: "PATCH", json: { limit: "50/1d" } });
      assert.equal(set.status, 200);
      assert.deepEqual(await set.json(), {
        host: HOST,
        limit: { count: 50, window_seconds: 86_400 },
        paused: false,
        used: 0,
        resets_at: 1_800_000_000,
      });
      assert.deepEqual(controls.calls.at(-1)?.args, { limit: { count: 50, windowSeconds: 86_400 } });
      assert.equal(controls.calls.at(-1)?.actor, `invites-api/${key.split("/")[0]}`);
      await call("/budget", key, { method: "PATCH", json: { limit: { count: 5, window_seconds: 3_600 } } });
      assert.deepEqual(controls.calls.at(-1)?.args, { limit: { count: 5, windowSeconds: 3_600 } });
      const paused = (await (
        await call("/budget", key, { method: "PATCH", json: { limit: null, paused: true } })
      ).json()) as { limit: unknown; paused: boolean };
      assert.deepEqual([paused.limit, paused.paused], [null, true]);
      await call("/budget", key, { method: "PATCH", json: { paused: false } });
    });

    it("400 for nothing to change, a bad limit or a window under a minute; 403 without manage; 405 naming GET, PATCH", async () => {
      const key = await keyFor();
      const before = controls.calls.length;
      for (const json of [{}, { limit: "fifty" }, { limit: "5/30s" }, { limit: { count: 5 } }, { paused: "yes" }]) {
        const res = await call("/budget", key, { method: "PATCH", json });
        assert.equal(res.status, 400, JSON.stringify(json));
        assert.equal((await errorOf(res)).error, "bad_request");
      }
      assert.equal(controls.calls.length, before);
      const res = await call("/budget", await keyFor({ scopes: ["create"] }));
      assert.deepEqual([res.status, (await errorOf(res)).error], [403, "insufficient_scope"]);
      const post = await call("/budget", key, { method: "POST" });
      assert.deepEqual([post.status, post.headers.get("allow")], [405, "GET, PATCH"]);
    });
  });

  describe("POST /invites/batch", () => {
    it("201 with every invite in order, each with its ref, one created event each", async () => {
      const key = await keyFor();
      const res = await call("/invites/batch", key, {
        method: "POST",
        json: {
          invites: [
            { kind: "account", ref: "row 1", note: "a" },
            { kind: "group", groups: ["team"], max_uses: 2, ref: "row 2" },
            { kind: "reset", username: "bob" },
          ],
        },
      });
      assert.equal(res.status, 201);
      const body = (await res.json()) as {
        created: number;
        failed: number;
        invites: Array<{ status: number; ref: string | null; invite: { reusable: boolean; reset: boolean } }>;
      };
      assert.deepEqual([body.created, body.failed], [3, 0]);
      assert.deepEqual(
        body.invites.map((i) => [i.status, i.ref, i.invite.reusable, i.invite.reset]),
        [
          [201, "row 1", false, false],
          [201, "row 2", true, false],
          [201, null, false, true],
        ],
      );
      assert.equal(
        (fake.calls.find((c) => c.op === "account" && (c.args as { ref?: string }).ref === "row 1") ?? null) !== null,
        true,
        "the ref reaches Prosody",
      );
      assert.deepEqual(
        events.map((e) => [e.type, e.data.ref, e.data.kind]),
        [
          ["invite.created", "row 1", "account"],
          ["invite.created", "row 2", "group"],
          ["invite.created", null, "reset"],
        ],
      );
    });

    it("207 item by item when some fail, each with its own route's status and code", async () => {
      const key = await keyFor({ scopes: ["create", "reset"] });
      const res = await call("/invites/batch", key, {
        method: "POST",
        json: {
          invites: [
            { kind: "reset", username: "nobody", ref: "r0" },
            { kind: "account", ref: "a0" },
          ],
        },
      });
      assert.equal(res.status, 207);
      const body = (await res.json()) as { created: number; failed: number; invites: Array<Record<string, unknown>> };
      assert.deepEqual([body.created, body.failed], [1, 1]);
      assert.deepEqual(body.invites[0], {
        status: 404,
        ref: "r0",
        error: "user_not_found",
        message: "no such account on this host",
      });
      assert.deepEqual([body.invites[1]?.status, body.invites[1]?.ref], [201, "a0"]);
    });

    it("--max-invites stays exact across a batch: 3 of 5 made, 2 key_exhausted", async () => {
      const key = await keyFor({ scopes: ["create"], maxInvites: 3 });
      const res = await call("/invites/batch", key, {
        method: "POST",
        json: { invites: Array.from({ length: 5 }, (_, i) => ({ kind: "account", ref: `a${i}` })) },
      });
      assert.equal(res.status, 207);
      const body = (await res.json()) as { created: number; invites: Array<{ error?: string }> };
      assert.equal(body.created, 3);
      assert.equal(body.invites.filter((i) => i.error === "key_exhausted").length, 2);
      assert.equal((await keys.get(HOST, key.split("/")[0] ?? ""))?.invitesIssued, 3);
    });

    it("refuses the whole batch, making nothing, for a bad item, a power the key lacks, or more than its rate", async () => {
      const key = await keyFor({ scopes: ["create"], maxTtlSeconds: 600, rate: { points: 5, durationSeconds: 60 } });
      const before = made();
      for (const [json, status, message] of [
        [{ invites: [] }, 400, /^invites: expected a list of 1 to 1000 invites/],
        [{ invites: [{ kind: "account" }, { kind: "account", ttl: -1 }] }, 400, /^invites\[1\]\.ttl: expected/],
        [
          { invites: [{ kind: "account", ref: "x".repeat(201) }] },
          400,
          /^invites\[0\]\.ref: expected text of 1 to 200/,
        ],
        [{ invites: [{ kind: "bogus" }] }, 400, /^invites\[0\]\.kind: expected account, group or reset/],
        [{ invites: [{ kind: "account", colour: 1 }] }, 400, /^invites\[0\]: unknown field: colour$/],
        [{ invites: [{ kind: "account", ttl: 601 }] }, 400, /^invites\[0\]\.ttl must be at most 600/],
        [{ invites: [{ kind: "group", groups: ["team"] }] }, 403, /scope create/],
        [{ invites: Array.from({ length: 6 }, () => ({ kind: "account" })) }, 400, /rate allows \(5 per 60 s\)/],
        [{ invites: Array.from({ length: 1_001 }, () => ({ kind: "account" })) }, 400, /^invites: expected/],
      ] as const) {
        const res = await call("/invites/batch", key, { method: "POST", json });
        assert.equal(res.status, status, JSON.stringify(json).slice(0, 80));
        assert.match((await errorOf(res)).message, message);
      }
      assert.equal(made(), before, "nothing was made");
      // Each invite counts one point of the key's rate: 3, then 3 more is over 5.
      const three = { invites: Array.from({ length: 3 }, () => ({ kind: "account" })) };
      assert.equal((await call("/invites/batch", key, { method: "POST", json: three })).status, 201);
      const over = await call("/invites/batch", key, { method: "POST", json: three });
      assert.deepEqual([over.status, (await errorOf(over)).error], [429, "rate_limited"]);
    });
  });

  describe("Idempotency-Key", () => {
    const again = (key: string, idempotencyKey: string, json: unknown, path = "/invites/account") =>
      call(path, key, { method: "POST", json, headers: { "Idempotency-Key": idempotencyKey } });

    it("a retry with the same key and body gets the first answer and creates nothing; another body is 409", async () => {
      const key = await keyFor();
      const before = made();
      const first = await again(key, "k-1", { note: "once", ttl: 60 });
      assert.equal(first.status, 201);
      const retry = await again(key, "k-1", { ttl: 60, note: "once" });
      assert.equal(retry.status, 201);
      assert.equal(retry.headers.get("idempotent-replayed"), "true");
      assert.equal(retry.headers.get("location"), first.headers.get("location"));
      assert.deepEqual(await retry.json(), await first.json());
      assert.equal(made(), before + 1);
      const other = await again(key, "k-1", { note: "twice", ttl: 60 });
      assert.deepEqual([other.status, (await errorOf(other)).error], [409, "idempotency_key_reused"]);
      // Another API key, or another route, with the same Idempotency-Key is another request.
      assert.equal(
        (await again(await keyFor(), "k-1", { note: "once", ttl: 60 })).headers.get("idempotent-replayed"),
        null,
      );
      assert.equal((await again(key, "k-1", { groups: ["team"] }, "/invites/group")).status, 201);
      assert.equal(made(), before + 3);
    });

    it("10 retries at once make one invite; each gets it", async () => {
      const key = await keyFor();
      delayMs = 150;
      const before = made();
      const answers = await Promise.all(Array.from({ length: 10 }, () => again(key, "k-race", { note: "race" })));
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(10).fill(201),
      );
      const ids = new Set(await Promise.all(answers.map(async (a) => ((await a.json()) as { id: string }).id)));
      assert.equal(ids.size, 1);
      assert.equal(made(), before + 1);
      assert.equal(answers.filter((a) => a.headers.get("idempotent-replayed") === "true").length, 9);
    });

    it("a client error is given again as it was; a batch is replayed whole; a bad key value is 400", async () => {
      const key = await keyFor();
      const first = await again(key, "k-err", { username: "nobody" }, "/invites/reset");
      assert.equal(first.status, 404);
      const retry = await again(key, "k-err", { username: "nobody" }, "/invites/reset");
      assert.deepEqual([retry.status, retry.headers.get("idempotent-replayed")], [404, "true"]);
      assert.deepEqual(await retry.json(), await first.json());
      const batch = {
        invites: [
          { kind: "account", ref: "b1" },
          { kind: "reset", username: "nobody" },
        ],
      };
      const before = made();
      const one = await again(key, "k-batch", batch, "/invites/batch");
      const two = await again(key, "k-batch", batch, "/invites/batch");
      assert.deepEqual([one.status, two.status], [207, 207]);
      assert.deepEqual(await two.json(), await one.json());
      assert.equal(made(), before + 1);
      const bad = await again(key, "has space", {});
      assert.deepEqual([bad.status, (await errorOf(bad)).error], [400, "bad_request"]);
    });

    it("POST /invites_api takes it too", async () => {
      const key = await keyFor();
      const post = (k: string) =>
        fetch(`${base}/invites_api?type=reset&username=bob`, {
          method: "POST",
          headers: { Authorization: `Bearer ${key}`, "Idempotency-Key": k, Accept: "application/json" },
        });
      // The drop-in's issuer is a failing stand-in here: its 500 is not kept, so the retry runs again.
      const first = await post("k-drop");
      const second = await post("k-drop");
      assert.deepEqual([first.status, second.status, second.headers.get("idempotent-replayed")], [500, 500, null]);
    });
  });
});
