import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InviteJson } from "../../src/http/invitesResource.js";
import { parsePeoplePolicy } from "../../src/people/policy.js";
import { tally } from "../../src/redemptions/tally.js";
import type { Subscription } from "../../src/store/webhooks.js";
import {
  callAs,
  CIRCLES_COMPONENT,
  CIRCLES_COMPONENT_2,
  CIRCLES_HOST as HOST,
  startCirclesProsody,
  startPeopleApp,
  type PeopleApp,
} from "../support/peopleApp.js";
import type { RunningProsody } from "../support/prosody.js";
import { runCli } from "../support/service.js";
import { startPostgres, startRedis, type RunningServer } from "../support/servers.js";
import { freshKeyStore } from "../support/stack.js";
import { login, registerWithInvite, type XmppStanzaError } from "../support/xmppClient.js";
import { MANAGE_NODES } from "../../src/xmpp/inviteManager.js";

// Issue 29: a person's quota holds across two instances sharing a real store (the (N+1)th is
// refused with the date a place frees); every invite and its events name their author; a webhook
// made with --groups hears only of its circles' invites.
const QUOTA = 3;
const WINDOW_S = 3_600;
const policy = parsePeoplePolicy(
  JSON.stringify({
    "*": {
      roles: {
        "prosody:admin": { scopes: ["manage"] },
        "prosody:registered": { scopes: ["create"], quota: `${QUOTA}/1h` },
      },
      managers: { [`max@${HOST}`]: ["team-a"] },
    },
  }),
);
const roles = Object.fromEntries(
  ["mia", "nik", "ria", "max", "pam", "ola"].map((name) => [`${name}@${HOST}`, "prosody:registered"]),
);

interface QuotaRefusal {
  error: string;
  next_at: string | null;
}

const STORES: Array<[string, (() => Promise<RunningServer>) | undefined]> = [
  ["sqlite", undefined],
  ["redis", startRedis],
  ["postgres", startPostgres],
];

for (const [kind, startStore] of STORES) {
  describe(`a person's quota, two instances sharing ${kind}`, () => {
    let prosody: RunningProsody;
    let server: RunningServer | undefined;
    let apps: PeopleApp[] = [];

    before(async () => {
      prosody = await startCirclesProsody();
      server = await startStore?.();
      const keyStore = server?.url ?? freshKeyStore();
      apps = [
        await startPeopleApp({ prosody, component: CIRCLES_COMPONENT, keyStore, policy, roles }),
        await startPeopleApp({ prosody, component: CIRCLES_COMPONENT_2, keyStore, policy, roles }),
      ];
    });
    after(async () => {
      for (const app of apps) await app.stop();
      await server?.dispose();
      await prosody?.dispose();
    });

    const ask = (i: number, jid: string, body: object = {}) =>
      callAs(apps[i] as PeopleApp, {})(jid, "POST", "/invites/account", body);

    it("N invites within the quota, on either instance; the (N+1)th is refused with when a place frees", async () => {
      const jid = `mia@${HOST}`;
      const first = Date.now();
      const statuses = [];
      for (let i = 0; i < QUOTA; i++) statuses.push((await ask(i % 2, jid)).status);
      assert.deepEqual(statuses, Array(QUOTA).fill(201));
      for (const i of [1, 0]) {
        const refused = await ask(i, jid);
        assert.equal(refused.status, 429);
        const body = (await refused.json()) as QuotaRefusal;
        assert.equal(body.error, "quota_exhausted");
        const nextAt = Date.parse(body.next_at ?? "");
        assert.ok(Math.abs(nextAt - (first + WINDOW_S * 1_000)) < 10_000, `next_at ${body.next_at}`);
        const retryAfter = Number(refused.headers.get("retry-after"));
        assert.ok(retryAfter > WINDOW_S - 60 && retryAfter <= WINDOW_S, `Retry-After ${retryAfter}`);
      }
      // Another person has places of their own.
      assert.equal((await ask(1, `pam@${HOST}`)).status, 201);
    });

    it("at once from both instances: exactly N made", async () => {
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => ask(i % 2, `nik@${HOST}`)));
      const statuses = answers.map((res) => res.status).sort();
      await Promise.all(answers.map((res) => res.body?.cancel()));
      assert.deepEqual(statuses, [...Array(QUOTA).fill(201), ...Array(8 - QUOTA).fill(429)]);
    });

    it("an invite Prosody refuses takes no place", async () => {
      const jid = `ria@${HOST}`;
      for (let i = 0; i < QUOTA + 1; i++) {
        // Prosody refuses it: the name is an account already (the quota is taken first, then given back).
        const res = await ask(i % 2, jid, { username: "paul" });
        assert.equal(res.status, 409, await res.text());
      }
      const statuses = [];
      for (let i = 0; i <= QUOTA; i++) statuses.push((await ask(i % 2, jid)).status);
      assert.deepEqual(statuses, [...Array(QUOTA).fill(201), 429]);
    });
  });
}

describe("authors and circles in answers, webhooks and audit lines", () => {
  let prosody: RunningProsody;
  let app: PeopleApp;
  const secrets: Record<string, string> = {};
  const hook = (id: string, groups?: string[]): Subscription => ({
    id,
    host: HOST,
    url: "https://receiver.example/hook",
    events: ["invite.created", "invite.revoked", "invite.redeemed", "registration.paused"],
    allowHttp: false,
    allowPrivate: false,
    ...(groups ? { groups } : {}),
    secret: "whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdA==",
    createdAt: new Date().toISOString(),
  });

  before(async () => {
    prosody = await startCirclesProsody({ admins: [`boss@${HOST}`], accounts: ["boss"] });
    app = await startPeopleApp({ prosody, component: CIRCLES_COMPONENT, keyStore: freshKeyStore(), policy, roles });
    secrets.root = (await app.keys.create(HOST, { scopes: ["manage"] })).key;
    secrets.b = (await app.keys.create(HOST, { scopes: ["manage"], groups: ["team-b"] })).key;
    await app.store.webhooks.addSubscription(hook("hook-a", ["team-a"]));
    await app.store.webhooks.addSubscription(hook("hook-all"));
  });
  after(async () => {
    await app?.stop();
    await prosody?.dispose();
  });

  it("created_by and revoked_by name the person or key; a --groups webhook hears only its circles", async () => {
    const call = callAs(app, secrets);
    const max = `max@${HOST}`;
    const made = async (who: string, body: object) => {
      const res = await call(who, "POST", "/invites/account", body);
      assert.equal(res.status, 201);
      return (await res.json()) as InviteJson;
    };
    const byMax = await made(max, {});
    const byB = await made("b", {});
    const byRoot = await made("root", { groups: ["team-a"] });
    assert.equal(byMax.created_by, max);
    assert.equal(byB.created_by, `key:${secrets.b?.split("/")[0] ?? ""}`);
    assert.equal((await call(max, "DELETE", `/invites/${byMax.id}`)).status, 204);
    await registerWithInvite({
      port: prosody.c2sPort,
      domain: HOST,
      token: byRoot.id,
      username: "ola",
      password: "ola-password-1",
    });
    const arrival = (await (await call(max, "GET", `/accounts/ola@${HOST}/invite`)).json()) as { created_by: string };
    assert.equal(arrival.created_by, `key:${secrets.root?.split("/")[0] ?? ""}`);

    // What the routes queued, per subscription.
    const queued = await app.store.webhooks.claim(Date.now() + 1_000, 60_000, 100);
    const events = (id: string) =>
      queued
        .filter((d) => d.subscriptionId === id)
        .map((d) => JSON.parse(d.payload) as { type: string; data: Record<string, unknown> })
        .map(({ type, data }) =>
          `${type} ${String(data.invite)} ${String(data.created_by)} ${String(data.revoked_by ?? "")}`.trim(),
        )
        .sort();
    const keyB = `key:${secrets.b?.split("/")[0] ?? ""}`;
    const keyRoot = `key:${secrets.root?.split("/")[0] ?? ""}`;
    assert.deepEqual(
      events("hook-a"),
      [
        `invite.created ${byMax.id} ${max}`,
        `invite.created ${byRoot.id} ${keyRoot}`,
        `invite.revoked ${byMax.id} ${max} ${max}`,
      ].sort(),
    );
    assert.deepEqual(
      events("hook-all"),
      [
        `invite.created ${byMax.id} ${max}`,
        `invite.created ${byB.id} ${keyB}`,
        `invite.created ${byRoot.id} ${keyRoot}`,
        `invite.revoked ${byMax.id} ${max} ${max}`,
      ].sort(),
    );

    // The registration, from Prosody's feed: it carries the invite's groups, so only hook-a's
    // circle and the unconfined hook hear of it; the host's own events reach no --groups hook.
    const page = await app.manager.redemptions(HOST, { max: 50, kinds: true });
    const registered = page.records.find((record) => record.kind === "registered");
    assert.deepEqual(registered?.groups, ["team-a"]);
    const paused = { cursor: "x", kind: "paused" as const, id: "", jid: "", at: 1, reset: false };
    const batch = tally(
      HOST,
      null,
      [...page.records, paused],
      [hook("hook-a", ["team-a"]), hook("hook-b", ["team-b"])],
    );
    assert.deepEqual(
      batch.deliveries.map((d) => {
        const { type, data } = JSON.parse(d.payload) as { type: string; data: Record<string, unknown> };
        return `${d.subscriptionId} ${type} ${String(data.jid)} ${String(data.created_by)}`;
      }),
      [`hook-a invite.redeemed ola@${HOST} ${keyRoot}`],
    );

    // The audit lines name the person who acted.
    const audit = app.lines.filter((line) => line.audit === "invite" || line.audit === "revoke");
    assert.ok(audit.some((line) => line.audit === "invite" && line.person === max && line.keyId === undefined));
    assert.ok(audit.some((line) => line.audit === "revoke" && line.person === max));
    assert.ok(audit.some((line) => line.audit === "invite" && line.keyId === secrets.b?.split("/")[0]));
  });

  it("revoked_by in GET /invites/{id} and the revoked listing: the key, the person, the admin in Prosody", async () => {
    const call = callAs(app, secrets);
    const max = `max@${HOST}`;
    const made = async (who: string) => {
      const res = await call(who, "POST", "/invites/account", {});
      assert.equal(res.status, 201);
      const invite = (await res.json()) as InviteJson;
      assert.equal(invite.revoked_by, null, "pending: revoked by nobody");
      return invite.id;
    };
    const [byKey, byPerson, byAdmin] = [await made("root"), await made(max), await made("root")];
    assert.equal((await call("root", "DELETE", `/invites/${byKey}`)).status, 204);
    assert.equal((await call(max, "DELETE", `/invites/${byPerson}`)).status, 204);
    const boss = await login({ port: prosody.c2sPort, domain: HOST, username: "boss", password: "boss-password-1" });
    try {
      // Who asked is bounded and plain text, as for update: refused, and the invite stays.
      for (const actor of ["x".repeat(3072), "a\tb"]) {
        await assert.rejects(boss.execute(HOST, MANAGE_NODES.revoke, { id: byAdmin, actor }), (err: unknown) => {
          assert.equal((err as XmppStanzaError).condition, "bad-request");
          return true;
        });
      }
      assert.equal((await boss.execute(HOST, MANAGE_NODES.revoke, { id: byAdmin })).status, "completed");
    } finally {
      await boss.close();
    }
    const expected = {
      [byKey]: `key:${secrets.root?.split("/")[0] ?? ""}`,
      [byPerson]: max,
      [byAdmin]: `boss@${HOST}`,
    };
    for (const [id, revokedBy] of Object.entries(expected)) {
      const shown = (await (await call("root", "GET", `/invites/${id}`)).json()) as InviteJson;
      assert.deepEqual([shown.state, shown.revoked_by], ["revoked", revokedBy], `GET /invites/${id}`);
    }
    const listed = (await (await call("root", "GET", "/invites?state=revoked&limit=100")).json()) as InviteJson[];
    assert.deepEqual(
      Object.fromEntries(listed.filter((i) => i.id in expected).map((i) => [i.id, i.revoked_by])),
      expected,
      "GET /invites?state=revoked",
    );
  });

  it("the CLI: create --groups and webhook add --groups keep the circles and show them", async () => {
    const env = { KEY_STORE: freshKeyStore() };
    const created = await runCli(["create", HOST, "team key", "--scope", "manage", "--groups", "team-a,team-b"], env);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim().split("\n").at(-1)?.split("/")[0] ?? "";
    assert.match(
      (await runCli(["list", HOST], env)).stdout,
      new RegExp(`^${id}\tteam key\tgroups:team-a,team-b$`, "m"),
    );
    assert.match((await runCli(["show", HOST, "--", id], env)).stdout, /^groups: +team-a,team-b$/m);
    for (const bad of ["", "a,,b", "x\u0007"]) {
      const refused = await runCli(["create", HOST, "--groups", bad], env);
      assert.notEqual(refused.code, 0, `--groups ${JSON.stringify(bad)}`);
    }
    // A key of resets alone, confined to circles, could do nothing: refused, saying why.
    const resetsOnly = await runCli(["create", HOST, "--scope", "reset", "--groups", "team-a"], env);
    assert.equal(resetsOnly.code, 2, "a usage error");
    assert.match(resetsOnly.stderr, /no password reset is made/);
    const hooked = await runCli(
      ["webhook", "add", HOST, "http://127.0.0.1:9/hook", "--allow-http", "--allow-private", "--groups", "team-a"],
      env,
    );
    assert.equal(hooked.code, 0, hooked.stderr);
    const listed = JSON.parse((await runCli(["webhook", "list", HOST, "--json"], env)).stdout) as Subscription[];
    assert.deepEqual(listed[0]?.groups, ["team-a"]);
  });
});
