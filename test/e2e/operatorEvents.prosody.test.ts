import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { startAll } from "../support/cleanup.js";
import { MANAGE_MODULES, startProsody, type RunningProsody } from "../support/prosody.js";
import { startReceiver, type Receiver, type Received } from "../support/receiver.js";
import { startRedis, type RunningServer } from "../support/servers.js";
import { runCli, startService, type RunningService } from "../support/service.js";
import { createKey, serviceEnv, waitReady } from "../support/stack.js";
import { registerWithInvite } from "../support/xmppClient.js";
import type { BatchJson, BudgetJson, InviteJson } from "../../src/http/apiTypes.js";

// Issue 30's events and controls through the service: two instances sharing Redis, a real Prosody,
// a real receiver. The budget, the pause, expiries, refs; the invite page and the CLI on a pause.
const HOST = "events.test";
const COMPONENTS = [
  { domain: "invites1.events.test", secret: "events-secret-1" },
  { domain: "invites2.events.test", secret: "events-secret-2" },
];
const FAST = {
  WEBHOOK_RETRY_MIN_MS: "100",
  WEBHOOK_RETRY_MAX_MS: "800",
  WEBHOOK_POLL_MS: "100",
  REDEMPTION_SYNC_MS: "1000",
};

interface Event {
  type: string;
  data: Record<string, unknown>;
}
const eventOf = (r: Received) => JSON.parse(r.body) as Event;

describe("the feed's events, the budget and the pause, through two instances sharing Redis", () => {
  let store: RunningServer;
  let prosody: RunningProsody;
  let services: RunningService[] = [];
  let receiver: Receiver;
  let key: string;
  let env: (i: number) => Record<string, string>;
  const url = (i: number) => services[i]?.url ?? "";
  const call = (i: number, path: string, init: { method?: string; json?: unknown } = {}) =>
    fetch(`${url(i)}${path}`, {
      method: init.method ?? "GET",
      headers: {
        Authorization: `Bearer ${key}`,
        ...(init.json !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    });
  const events = (type: string) => receiver.received.map(eventOf).filter((e) => e.type === type);

  before(async () => {
    store = await startRedis();
    prosody = await startProsody({
      hosts: [HOST],
      components: COMPONENTS,
      admins: [],
      hostOptions: { [HOST]: { modules: MANAGE_MODULES } },
      extra: [
        `invites_manage_jids = { "${COMPONENTS[0]!.domain}", "${COMPONENTS[1]!.domain}" }`,
        // Expiries swept every second, so that a test sees them in seconds.
        `invites_manage_expiry_sweep = 1`,
      ].join("\n"),
    });
    receiver = await startReceiver();
    env = (i: number) => serviceEnv(prosody, COMPONENTS[i]!, store.url, FAST);
    services = await startAll(
      [0, 1].map((i) => () => startService(env(i))),
      (s) => s.stop(),
    );
    await Promise.all(services.map((s) => waitReady(s.url, 15_000)));
    key = await createKey(store.url, HOST, "events", "--scope", "manage", "--rate", "5000/1m");
    const added = await runCli(["webhook", "add", HOST, receiver.url, "--allow-http", "--allow-private"], {
      KEY_STORE: store.url,
    });
    assert.equal(added.code, 0, added.stderr);
  });
  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await receiver?.stop();
    await prosody?.dispose();
    await store?.dispose();
  });

  it("1,000 invites expiring at once: 1,000 invite.expired, each once with its ref, across two instances and a restart", async () => {
    const invites = Array.from({ length: 1_000 }, (_, i) => ({ kind: "account", ttl: 2, ref: `expiring ${i}` }));
    const made = await call(0, "/invites/batch", { method: "POST", json: { invites } });
    assert.equal(made.status, 201, await made.clone().text());
    const body = (await made.json()) as BatchJson;
    const refs = new Map(body.invites.map((e) => ("invite" in e ? [e.invite.id, e.invite.ref] : ["", null])));
    const expiresAt = Math.max(...body.invites.map((e) => ("invite" in e ? e.invite.expires : 0)));
    // Instance 0 stops while they expire; instance 1 reads the feed; then 0 comes back and reads too.
    await services[0]?.stop();
    await receiver.until(() => events("invite.expired").length >= 1_000, 60_000);
    const latestMs = Date.now() - expiresAt * 1_000;
    services[0] = await startService(env(0));
    await waitReady(url(0), 15_000);
    await sleep(3_000);
    const expired = events("invite.expired");
    assert.equal(expired.length, 1_000, "no duplicate");
    assert.equal(new Set(expired.map((e) => e.data.invite)).size, 1_000);
    for (const e of expired) assert.equal(e.data.ref, refs.get(String(e.data.invite)));
    console.log(`# 1,000 expiries: the last invite.expired arrived ${latestMs} ms after the last expiry`);
  });

  it("a ref is in invite.created and invite.redeemed; a pause and its end are events, with the actor", async () => {
    const made = await call(1, "/invites/account", { method: "POST", json: { ref: "ana's row" } });
    const invite = (await made.json()) as InviteJson;
    assert.equal(invite.ref, "ana's row");
    await registerWithInvite({
      port: prosody.c2sPort,
      domain: HOST,
      token: invite.id,
      username: "ana",
      password: "ana-password-1",
    });
    await receiver.until(() => events("invite.redeemed").some((e) => e.data.invite === invite.id), 15_000);
    assert.equal(events("invite.created").find((e) => e.data.invite === invite.id)?.data.ref, "ana's row");
    assert.equal(events("invite.redeemed").find((e) => e.data.invite === invite.id)?.data.ref, "ana's row");
    const arrival = (await (await call(0, "/accounts/ana/invite")).json()) as { ref: string };
    assert.equal(arrival.ref, "ana's row");

    const actor = `invites-api/${key.split("/")[0]}`;
    for (const paused of [true, false]) {
      const res = await call(paused ? 0 : 1, "/budget", { method: "PATCH", json: { paused } });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(((await res.json()) as BudgetJson).paused, paused);
    }
    await receiver.until(() => events("registration.resumed").length === 1, 15_000);
    assert.deepEqual(
      [events("registration.paused")[0]?.data.actor, events("registration.resumed")[0]?.data.actor],
      [actor, actor],
    );
  });

  it("while paused the invite page says so (503, no form); a budget used up refuses the page's sign-up the same; /metrics shows it", async () => {
    const invite = (await (await call(0, "/invites/account", { method: "POST", json: {} })).json()) as InviteJson;
    const page = `${url(1)}/invite/${HOST}/${invite.id}`;
    await call(0, "/budget", { method: "PATCH", json: { paused: true } });
    try {
      const paused = await fetch(page);
      assert.equal(paused.status, 503);
      const html = await paused.text();
      assert.match(html, /Sign-ups are paused on events\.test/);
      assert.doesNotMatch(html, /<form/);
      assert.doesNotMatch(html, /not valid/);
    } finally {
      await call(0, "/budget", { method: "PATCH", json: { paused: false } });
    }
    // A budget of what is used already: the next sign-up, on the page, is refused as the pause is.
    const used = ((await (await call(0, "/budget")).json()) as BudgetJson).used;
    await call(1, "/budget", { method: "PATCH", json: { limit: `${Math.max(used, 1)}/1d` } });
    try {
      if (used === 0) {
        const first = (await (await call(0, "/invites/account", { method: "POST", json: {} })).json()) as InviteJson;
        await registerWithInvite({
          port: prosody.c2sPort,
          domain: HOST,
          token: first.id,
          username: "bo",
          password: "bo-password-1",
        });
      }
      const signup = await fetch(page, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: url(1) },
        body: new URLSearchParams({
          username: "cyril",
          password: "long-secret-words-9",
          confirm: "long-secret-words-9",
        }).toString(),
      });
      assert.equal(signup.status, 503, await signup.clone().text());
      assert.match(await signup.text(), /Sign-ups are paused/);
      await receiver.until(() => events("registration.budget_exhausted").length >= 1, 15_000);
      // The instance that set the budget shows it at once; another within 15 s (its cache).
      const metrics = await (await fetch(`${url(1)}/metrics`)).text();
      assert.match(
        metrics,
        new RegExp(`invites_api_registration_budget_limit\\{host="${HOST}"\\} ${Math.max(used, 1)}`),
      );
      assert.match(metrics, new RegExp(`invites_api_registrations_paused\\{host="${HOST}"\\} 0`));
    } finally {
      await call(1, "/budget", { method: "PATCH", json: { limit: null } });
    }
  });

  it("the CLI reads and sets the budget through the running service, leaving no key behind", async () => {
    const cliEnv = { KEY_STORE: store.url, HTTP_HOST: "127.0.0.1", HTTP_PORT: new URL(url(0)).port };
    const before = await runCli(["list", HOST], cliEnv);
    const set = await runCli(["budget", HOST, "--limit", "40/1d", "--pause", "--json"], cliEnv);
    assert.equal(set.code, 0, set.stderr);
    const budget = JSON.parse(set.stdout) as BudgetJson;
    assert.deepEqual([budget.limit, budget.paused], [{ count: 40, window_seconds: 86_400 }, true]);
    const read = await runCli(["budget", HOST], cliEnv);
    assert.match(
      read.stdout,
      /^events\.test: 40 registrations per 86400 s, \d+ used, the window ends .*; registrations PAUSED\n$/,
    );
    const cleared = await runCli(["budget", HOST, "--no-limit", "--resume"], cliEnv);
    assert.match(cleared.stdout, /no budget .*registrations open/);
    assert.equal((await runCli(["list", HOST], cliEnv)).stdout, before.stdout, "the temporary keys are gone");
    const nobody = await runCli(["budget", HOST, "--url", "http://127.0.0.1:9"], cliEnv);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /does not answer: budget goes through the running service/);
    const both = await runCli(["budget", HOST, "--pause", "--resume"], cliEnv);
    assert.equal(both.code, 2);
  });
});
