import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { recordWebhookSecret } from "../support/handedOut.js";
import { MANAGE_MODULES, startProsody, type ProsodyOptions, type RunningProsody } from "../support/prosody.js";
import { startReceiver, type Receiver, type Received } from "../support/receiver.js";
import { startPostgres, startRedis, type RunningServer } from "../support/servers.js";
import { runCli, startService, type RunningService } from "../support/service.js";
import { createKey, freshKeyStore, serviceEnv, waitReady } from "../support/stack.js";
import { registerWithInvite } from "../support/xmppClient.js";
import { openStore } from "../../src/store/open.js";
import type { InviteJson } from "../../src/http/invitesResource.js";

// Signed webhooks (issue 19) against a real Prosody, a real receiver and the real stores.
const HOST = "hooks.test";
// Another VirtualHost, with a receiver of its own: a dead receiver on HOST must not delay it.
const OTHER = "hooks2.test";
const COMPONENT = { domain: "invites.hooks.test", secret: "hooks-secret" };
const SECOND = { domain: "invites2.hooks.test", secret: "hooks-secret-2" };
// Short retries and leases, so that a test sees several attempts in seconds.
const FAST = {
  WEBHOOK_RETRY_MIN_MS: "100",
  WEBHOOK_RETRY_MAX_MS: "800",
  WEBHOOK_TIMEOUT_MS: "3000",
  WEBHOOK_LEASE_MS: "4000",
  WEBHOOK_POLL_MS: "100",
};

const prosodyOptions: ProsodyOptions = {
  hosts: [HOST, OTHER],
  components: [COMPONENT, SECOND],
  admins: [],
  hostOptions: { [HOST]: { modules: MANAGE_MODULES }, [OTHER]: { modules: MANAGE_MODULES } },
  extra: [
    `invites_manage_jids = { "${COMPONENT.domain}", "${SECOND.domain}" }`,
    `invites_manage_groups = { team = "Team" }`,
  ].join("\n"),
};

interface Event {
  type: string;
  timestamp: string;
  data: {
    host: string;
    invite: string;
    key: string | null;
    jid?: string;
    revoked_by?: string;
    created_by?: string | null;
  };
}
const event = (r: Received) => JSON.parse(r.body) as Event;

async function subscribe(keyStore: string, url: string, ...flags: string[]): Promise<{ id: string; secret: string }> {
  return subscribeOn(HOST, keyStore, url, ...flags);
}

async function subscribeOn(
  host: string,
  keyStore: string,
  url: string,
  ...flags: string[]
): Promise<{ id: string; secret: string }> {
  const added = await runCli(["webhook", "add", host, url, ...flags], { KEY_STORE: keyStore });
  assert.equal(added.code, 0, added.stderr);
  const lines = added.stdout.trim().split("\n");
  const id = /^webhook (\S+) of /.exec(lines[0] ?? "")?.[1] ?? "";
  return { id, secret: lines.at(-1) ?? "" };
}

function api(service: () => RunningService, key: string) {
  return async (path: string, init: { json?: unknown; method?: string } = {}) => {
    const res = await fetch(`${service().url}${path}`, {
      method: init.method ?? (init.json === undefined ? "GET" : "POST"),
      headers: {
        Authorization: `Bearer ${key}`,
        ...(init.json === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as InviteJson };
  };
}

describe("webhooks, against a real Prosody and a real receiver", () => {
  let prosody: RunningProsody;
  let service: RunningService | undefined;
  let receiver: Receiver;
  let keyStore: string;
  let key: string;
  let call: ReturnType<typeof api>;
  const register = (token: string, username: string) =>
    registerWithInvite({ port: prosody.c2sPort, domain: HOST, token, username, password: `${username}-password-1` });
  const start = async (env: Record<string, string> = {}) => {
    service = await startService(serviceEnv(prosody, COMPONENT, keyStore, { ...FAST, ...env }));
    await waitReady(service.url, 10_000);
    return service;
  };

  before(async () => {
    prosody = await startProsody(prosodyOptions);
    receiver = await startReceiver();
    keyStore = freshKeyStore();
    key = await createKey(keyStore, HOST, "manage", "--scope", "manage");
    call = api(() => service as RunningService, key);
    await start();
  });
  after(async () => {
    await service?.stop();
    await receiver?.stop();
    await prosody?.dispose();
  });

  it("each event arrives signed: the Standard Webhooks library verifies it; its body names host, invite, key, account", async () => {
    const all = await subscribe(keyStore, `${receiver.url}/all`, "--allow-http", "--allow-private");
    const only = await subscribe(
      keyStore,
      `${receiver.url}/only`,
      "--allow-http",
      "--allow-private",
      "--events",
      "invite.redeemed",
    );
    const made = (await call("/invites/account", { json: { note: "<not in events>" } })).body;
    const spare = (await call("/invites/account", { json: {} })).body;
    await register(made.id, "hookuser");
    assert.equal((await call(`/invites/${spare.id}`, { method: "DELETE" })).status, 204);
    prosody.ctl(["register", "resetme", HOST, "old-password-1"]);
    const reset = (await call("/invites/reset", { json: { username: "resetme" } })).body;
    await register(reset.id, "resetme");
    // The drop-in route's invites have their event too.
    const legacy = await fetch(`${service?.url}/invites_api?key=${encodeURIComponent(key)}`, {
      method: "POST",
      headers: { Accept: "application/json" },
    });
    assert.equal(legacy.status, 201);
    const legacyId = /preauth=([A-Za-z0-9_-]+)/.exec(((await legacy.json()) as { uri: string }).uri)?.[1];

    const at = (path: string) => receiver.received.filter((r) => r.path === path);
    await receiver.until(() => at("/all").length >= 7 && at("/only").length >= 1);
    const keyId = key.split("/")[0];
    const events = at("/all").map((r) => {
      // Throws unless the signature (and the timestamp's freshness) checks out.
      new Webhook(all.secret).verify(r.body, r.headers as Record<string, string>);
      assert.throws(() => new Webhook(only.secret).verify(r.body, r.headers as Record<string, string>));
      return event(r);
    });
    const seen = events.map((e) => [e.type, e.data.invite]).sort();
    assert.deepEqual(
      seen,
      [
        ["invite.created", made.id],
        ["invite.created", spare.id],
        ["invite.created", reset.id],
        ["invite.created", legacyId],
        ["invite.redeemed", made.id],
        ["invite.revoked", spare.id],
        ["reset.redeemed", reset.id],
      ].sort(),
    );
    for (const e of events) {
      assert.equal(e.data.host, HOST);
      assert.equal(e.data.key, keyId);
    }
    assert.equal(events.find((e) => e.type === "invite.redeemed")?.data.jid, `hookuser@${HOST}`);
    assert.equal(events.find((e) => e.type === "reset.redeemed")?.data.jid, `resetme@${HOST}`);
    // Authors as answers name them (issue 29): key:ID for a key, a person's JID.
    assert.equal(events.find((e) => e.type === "invite.revoked")?.data.revoked_by, `key:${keyId}`);
    for (const e of events) assert.equal(e.data.created_by, `key:${keyId}`, e.type);
    for (const r of receiver.received) {
      assert.ok(!r.body.includes(key.split("/")[1] ?? "-"), "no key secret");
      assert.ok(!r.body.includes("password"), "no password");
      assert.ok(!r.body.includes("<not in events>"), "no note");
    }
    // The filtered subscription got the redemption only, verified with its own secret.
    assert.deepEqual(
      at("/only").map((r) => event(r).type),
      ["invite.redeemed"],
    );
    new Webhook(only.secret).verify(at("/only")[0]?.body ?? "", at("/only")[0]?.headers as Record<string, string>);
    const listed = await runCli(["webhook", "list", HOST], { KEY_STORE: keyStore });
    const line = listed.stdout.split("\n").find((l) => l.startsWith(`${all.id}\t`)) ?? "";
    assert.match(line, /\tok:20\d\d-.*\tfailed:never\tbacklog:0$/);
    assert.ok(!listed.stdout.includes("whsec_"), "list never shows a secret");
    for (const id of [all.id, only.id]) {
      assert.equal((await runCli(["webhook", "delete", HOST, id], { KEY_STORE: keyStore })).code, 0);
    }
  });

  it("a receiver down for a while, then up: every event arrives; list shows the failure and the backlog", async () => {
    const hook = await subscribe(keyStore, `${receiver.url}/flaky`, "--allow-http", "--allow-private");
    receiver.answer = (r) => (r.path === "/flaky" ? 503 : 204);
    const made: string[] = [];
    for (let i = 0; i < 4; i += 1) made.push((await call("/invites/account", { json: {} })).body.id);
    await receiver.until((got) => got.filter((r) => r.path === "/flaky").length >= 8);
    const listed = await runCli(["webhook", "show", "--json", HOST, hook.id], { KEY_STORE: keyStore });
    const status = JSON.parse(listed.stdout) as { backlog: number; lastFailureAt?: string; lastError?: string };
    assert.equal(status.backlog, 4);
    assert.match(status.lastError ?? "", /answered 503/);
    const metrics = await (await fetch(`${service?.url}/metrics`)).text();
    assert.match(metrics, /invites_api_webhook_backlog 4/);
    assert.match(metrics, /invites_api_webhook_deliveries_total\{outcome="failed"\} [1-9]/);
    // One warning for the failing receiver, not one per attempt.
    await service?.waitForLog((l) => l.msg === "webhook deliveries failing; retrying");
    const warnings = service?.lines.filter((l) => l.msg === "webhook deliveries failing; retrying") ?? [];
    assert.equal(warnings.length, 1);
    receiver.answer = () => 204;
    const delivered = (got: readonly Received[], id: string) =>
      got.some((r) => r.path === "/flaky" && r.answered === 204 && event(r).data.invite === id);
    await receiver.until((got) => made.every((id) => delivered(got, id)));
    // The outbox forgets each one once its 2xx is in.
    const show = async () =>
      JSON.parse((await runCli(["webhook", "show", "--json", HOST, hook.id], { KEY_STORE: keyStore })).stdout) as {
        backlog: number;
        lastSuccessAt?: string;
      };
    const started = Date.now();
    while ((await show()).backlog !== 0 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 100));
    const after = await show();
    assert.equal(after.backlog, 0);
    assert.ok(after.lastSuccessAt);
    // Every attempt of one event carried the same webhook-id.
    const ids = new Map<string, Set<string>>();
    for (const r of receiver.received.filter((x) => x.path === "/flaky")) {
      const invite = event(r).data.invite;
      ids.set(invite, (ids.get(invite) ?? new Set()).add(String(r.headers["webhook-id"])));
    }
    for (const set of ids.values()) assert.equal(set.size, 1);
    await runCli(["webhook", "delete", HOST, hook.id], { KEY_STORE: keyStore });
  });

  it("kill -9 of the service mid-delivery, restart: the event arrives, with the same webhook-id", async () => {
    const hook = await subscribe(keyStore, `${receiver.url}/held`, "--allow-http", "--allow-private");
    receiver.answer = (r) => (r.path === "/held" ? "hang" : 204);
    const made = (await call("/invites/account", { json: {} })).body;
    await receiver.until((got) => got.some((r) => r.path === "/held"));
    const first = receiver.received.find((r) => r.path === "/held");
    await service?.stop("SIGKILL");
    receiver.answer = () => 204;
    await start();
    await receiver.until((got) => got.filter((r) => r.path === "/held").length >= 2, 30_000);
    const again = receiver.received.filter((r) => r.path === "/held").at(-1);
    assert.equal(event(again as Received).data.invite, made.id);
    assert.equal(again?.headers["webhook-id"], first?.headers["webhook-id"]);
    await runCli(["webhook", "delete", HOST, hook.id], { KEY_STORE: keyStore });
  });

  it("a registration while the service is stopped is delivered after it starts", async () => {
    const hook = await subscribe(
      keyStore,
      `${receiver.url}/later`,
      "--allow-http",
      "--allow-private",
      "--events",
      "invite.redeemed",
    );
    const made = (await call("/invites/account", { json: {} })).body;
    await service?.stop();
    await register(made.id, "whiledown");
    await start();
    await receiver.until((got) => got.some((r) => r.path === "/later" && event(r).data.jid === `whiledown@${HOST}`));
    await runCli(["webhook", "delete", HOST, hook.id], { KEY_STORE: keyStore });
  });

  it("plain http and private targets are refused without the flags, at subscription and at delivery", async () => {
    const refused = async (url: string, ...flags: string[]) => {
      const res = await runCli(["webhook", "add", HOST, url, ...flags], { KEY_STORE: keyStore });
      assert.equal(res.code, 1, `${url} ${flags.join(" ")}: ${res.stdout}`);
      return res.stderr;
    };
    assert.match(await refused(`${receiver.url}/x`), /--allow-http/);
    assert.match(await refused(`${receiver.url}/x`, "--allow-http"), /127\.0\.0\.1, not a public address/);
    for (const url of [
      "https://localhost/x",
      "https://10.1.2.3/x",
      "https://169.254.169.254/latest",
      "https://[::1]/x",
      "https://[::ffff:127.0.0.1]/x",
      "https://user:pw@example.test/x",
      "ftp://example.test/",
    ]) {
      await refused(url);
    }
    // A subscription whose name led elsewhere when it was made, and to loopback now: the delivery
    // checks the address it connects to, and sends nothing.
    const backend = await openStore(keyStore);
    const reboundSecret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    recordWebhookSecret(reboundSecret);
    try {
      await backend.webhooks.addSubscription({
        id: "rebound",
        host: HOST,
        url: `http://localhost:${receiver.port}/rebound`,
        events: ["invite.created"],
        allowHttp: true,
        allowPrivate: false,
        secret: reboundSecret,
        createdAt: new Date().toISOString(),
      });
    } finally {
      await backend.close();
    }
    // A redirect is not followed.
    const moved = await subscribe(
      keyStore,
      `${receiver.url}/moved`,
      "--allow-http",
      "--allow-private",
      "--events",
      "invite.created",
    );
    receiver.answer = (r) => (r.path === "/moved" ? 302 : 204);
    await call("/invites/account", { json: {} });
    const lastError = async (id: string) =>
      (
        JSON.parse((await runCli(["webhook", "show", "--json", HOST, id], { KEY_STORE: keyStore })).stdout) as {
          lastError?: string;
        }
      ).lastError ?? "";
    const started = Date.now();
    while ((!(await lastError("rebound")) || !(await lastError(moved.id))) && Date.now() - started < 15_000) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.match(await lastError("rebound"), /refused: localhost leads to no public address/);
    assert.match(await lastError(moved.id), /302 \(redirects are not followed\)/);
    assert.ok(!receiver.received.some((r) => r.path === "/rebound" || r.path === "/elsewhere"));
    receiver.answer = () => 204;
    for (const id of ["rebound", moved.id]) await runCli(["webhook", "delete", HOST, id], { KEY_STORE: keyStore });
  });

  it("a receiver that never answers delays no other: a prompt one on its host and on another gets each event within 2 s", async () => {
    // A timeout far longer than the 2 s allowed: an event held behind a hanging delivery is late by it.
    await service?.stop();
    await start({ WEBHOOK_TIMEOUT_MS: "8000", WEBHOOK_LEASE_MS: "20000" });
    const otherKey = await createKey(keyStore, OTHER, "other", "--scope", "manage");
    const callOther = api(() => service as RunningService, otherKey);
    const flags = ["--allow-http", "--allow-private", "--events", "invite.created"];
    receiver.answer = (r) => (r.path === "/hang" ? "hang" : 204);
    const hang = await subscribe(keyStore, `${receiver.url}/hang`, ...flags);
    // The dead receiver's backlog first: more deliveries than the deliverer has slots.
    for (let i = 0; i < 12; i += 1) await call("/invites/account", { json: {} });
    const hanging = () => receiver.received.filter((r) => r.path === "/hang").length;
    await receiver.until(() => hanging() >= 2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Well within the 8 s timeout: none of these has failed yet, so each is one slot held.
    const held = hanging();
    const prompt = await subscribe(keyStore, `${receiver.url}/prompt`, ...flags);
    const other = await subscribeOn(OTHER, keyStore, `${receiver.url}/other`, ...flags);
    const late: Record<string, number[]> = { "/prompt": [], "/other": [] };
    for (let i = 0; i < 4; i += 1) {
      for (const [path, make] of [
        ["/prompt", call],
        ["/other", callOther],
      ] as const) {
        const started = Date.now();
        const made = (await make("/invites/account", { json: {} })).body;
        await receiver.until((got) => got.some((r) => r.path === path && event(r).data.invite === made.id), 20_000);
        late[path]?.push(Date.now() - started);
      }
    }
    const worst = Math.max(...Object.values(late).flat());
    assert.ok(worst < 2_000, `an event reached a prompt receiver ${worst} ms late: ${JSON.stringify(late)}`);
    assert.equal(held, 2, "the dead receiver held two slots, no more");
    // The dead one keeps failing: its deliveries time out, and are tried again.
    const lastError = async () =>
      (
        JSON.parse((await runCli(["webhook", "show", "--json", HOST, hang.id], { KEY_STORE: keyStore })).stdout) as {
          lastError?: string;
        }
      ).lastError ?? "";
    await receiver.until(() => hanging() > held, 30_000);
    assert.match(await lastError(), /no answer within 8000 ms/);
    receiver.answer = () => 204;
    await runCli(["webhook", "delete", HOST, hang.id], { KEY_STORE: keyStore });
    await runCli(["webhook", "delete", HOST, prompt.id], { KEY_STORE: keyStore });
    await runCli(["webhook", "delete", OTHER, other.id], { KEY_STORE: keyStore });
  });
});

for (const [kind, startServer] of [
  ["Redis", startRedis],
  ["PostgreSQL", startPostgres],
] as const) {
  describe(`two instances on ${kind}: each event delivered, none lost, duplicates only with the same id`, () => {
    let prosody: RunningProsody;
    let store: RunningServer;
    let receiver: Receiver;
    const services: RunningService[] = [];

    before(async () => {
      prosody = await startProsody(prosodyOptions);
      store = await startServer();
      receiver = await startReceiver();
    });
    after(async () => {
      for (const s of services) await s.stop();
      await receiver?.stop();
      await store?.dispose();
      await prosody?.dispose();
    });

    it("invites made through both, registrations through both, one receiver", async () => {
      const key = await createKey(store.url, HOST, "manage", "--scope", "manage");
      const hook = await subscribe(store.url, `${receiver.url}/shared`, "--allow-http", "--allow-private");
      // A slow receiver: each delivery is under way across several polls of the other instance.
      receiver.delayMs = 400;
      for (const component of [COMPONENT, SECOND]) {
        const s = await startService(serviceEnv(prosody, component, store.url, FAST));
        services.push(s);
        await waitReady(s.url, 10_000);
      }
      const made: InviteJson[] = [];
      for (let i = 0; i < 10; i += 1) {
        const s = services[i % 2] as RunningService;
        made.push((await api(() => s, key)("/invites/account", { json: {} })).body);
      }
      for (const [i, invite] of made.slice(0, 6).entries()) {
        await registerWithInvite({
          port: prosody.c2sPort,
          domain: HOST,
          token: invite.id,
          username: `shared${i}`,
          password: "shared-password-1",
        });
      }
      const want = [
        ...made.map((m) => `invite.created ${m.id}`),
        ...made.slice(0, 6).map((m) => `invite.redeemed ${m.id}`),
      ].sort();
      const got = () => [...new Set(receiver.received.map((r) => `${event(r).type} ${event(r).data.invite}`))].sort();
      await receiver.until(() => got().length >= want.length);
      assert.deepEqual(got(), want);
      const byId = new Map<string, string>();
      for (const r of receiver.received) {
        const id = String(r.headers["webhook-id"]);
        const seen = byId.get(id);
        assert.ok(seen === undefined || seen === r.body, "a duplicate carries the same id and body");
        byId.set(id, r.body);
        new Webhook(hook.secret).verify(r.body, r.headers as Record<string, string>);
      }
      assert.equal(byId.size, want.length);
      // No instance died and the receiver answered at once: each event was sent by one instance, once.
      assert.equal(receiver.received.length, want.length);
    });
  });
}
