import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MANAGE_MODULES, type ProsodyOptions, type RunningProsody } from "../support/prosody.js";
import { runCli, startService, type RunningService } from "../support/service.js";
import { createKey, serviceEnv, startStack, waitReady, type RunningStack } from "../support/stack.js";
import { login, registerWithInvite, RegistrationError } from "../support/xmppClient.js";
import type { InviteJson } from "../../src/http/invitesResource.js";
import type { KeyInfo } from "../../src/keys/keyStore.js";

// What became of each invite (issue 18, points 3 to 5): GET /invites?state=…, GET /invites/{id}
// for used, revoked and expired invites, accounts per key in the CLI and the redeemed metric,
// counted once from Prosody's records even while the service was down or runs twice.
const HOST = "history.test";
const COMPONENT = { domain: "invites.history.test", secret: "history-secret" };
// A second instance connects as its own component, both listed in invites_manage_jids.
const SECOND = { domain: "invites2.history.test", secret: "history-secret-2" };
const MANAGE_NODE = "xmpp:invites-api/mod_invites_manage#create-account";

const prosodyOptions = (storage: "sql" | "internal"): ProsodyOptions => ({
  hosts: [HOST],
  components: [COMPONENT, SECOND],
  admins: [],
  storage,
  hostOptions: { [HOST]: { modules: MANAGE_MODULES, admins: [`root@${HOST}`] } },
  extra: [
    `invites_manage_jids = { "${COMPONENT.domain}", "${SECOND.domain}" }`,
    `invites_manage_groups = { team = "Team" }`,
  ].join("\n"),
});

interface Client {
  call(
    path: string,
    init?: { json?: unknown; method?: string; as?: string },
  ): Promise<{ status: number; body: unknown; link: string | null }>;
  make(kind: "account" | "group" | "reset", json?: unknown, as?: string): Promise<InviteJson>;
  register(token: string, username: string): Promise<void>;
  listAll(state: string, limit?: number): Promise<InviteJson[]>;
}

function client(prosody: () => RunningProsody, service: () => RunningService, manageKey: () => string): Client {
  const call: Client["call"] = async (path, init = {}) => {
    const res = await fetch(`${service().url}${path}`, {
      method: init.method ?? (init.json === undefined ? "GET" : "POST"),
      headers: {
        Authorization: `Bearer ${init.as ?? manageKey()}`,
        ...(init.json === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? (JSON.parse(text) as unknown) : undefined,
      link: res.headers.get("Link"),
    };
  };
  return {
    call,
    async make(kind, json = {}, as) {
      const res = await call(`/invites/${kind}`, { json, ...(as ? { as } : {}) });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body as InviteJson;
    },
    register: (token, username) =>
      registerWithInvite({
        port: prosody().c2sPort,
        domain: HOST,
        token,
        username,
        password: `${username}-password-1`,
      }),
    async listAll(state, limit = 200) {
      const all: InviteJson[] = [];
      let path: string | undefined = `/invites?state=${state}&limit=${limit}`;
      for (let pages = 0; path && pages < 100; pages += 1) {
        const res = await call(path);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        all.push(...(res.body as InviteJson[]));
        path = /^<([^>]+)>; rel="next"$/.exec(res.link ?? "")?.[1];
      }
      return all;
    },
  };
}

const ids = (list: readonly InviteJson[]) => list.map((invite) => invite.id);
const now = () => Math.floor(Date.now() / 1_000);

async function keyInfo(keyStore: string, key: string): Promise<KeyInfo> {
  const id = key.split("/")[0] ?? "";
  const shown = await runCli(["show", "--json", HOST, "--", id], { KEY_STORE: keyStore });
  assert.equal(shown.code, 0, shown.stderr);
  return JSON.parse(shown.stdout) as KeyInfo;
}

/** Polls until `read` gives `want`; fails with the last value after `timeoutMs`. */
async function eventually<T>(read: () => Promise<T>, want: T, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  let last: T = await read();
  while (Date.now() - started < timeoutMs) {
    if (JSON.stringify(last) === JSON.stringify(want)) return;
    await sleep(100);
    last = await read();
  }
  assert.deepEqual(last, want);
}

async function redeemedMetric(service: RunningService, type: "account" | "reset"): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`invites_api_invites_redeemed_total{host="${HOST}",type="${type}"}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

for (const storage of ["sql", "internal"] as const) {
  describe(`the history of invites, on Prosody's ${storage} storage`, () => {
    let stack: RunningStack | undefined;
    let prosody: RunningProsody;
    let service: RunningService;
    let keyStore: string;
    let manageKey: string;
    let createOnly: string;
    const api = client(
      () => prosody,
      () => service,
      () => manageKey,
    );

    before(async () => {
      // A short sync interval would hide a missing nudge: the default (60 s) is kept.
      stack = await startStack(prosodyOptions(storage), { component: COMPONENT });
      ({ prosody, service, keyStore } = stack);
      manageKey = await createKey(keyStore, HOST, "manage", "--scope", "manage");
      createOnly = await createKey(keyStore, HOST, "sign-up page");
      prosody.ctl(["register", "root", HOST, "root-password-1"]);
    });
    after(() => stack?.stop());

    it("lists invites by state: used, revoked, expired, pending; each shown with its state and registrations", async () => {
      const used = await api.make("account", { note: "used" });
      const revoked = await api.make("account", { note: "revoked" });
      const expired = await api.make("account", { ttl: 1, note: "expired" });
      const pending = await api.make("account", { note: "pending" });
      const capped = await api.make("group", { groups: ["team"], max_uses: 1 });
      const open = await api.make("group", { groups: ["team"] });
      await api.register(used.id, "ursula");
      await api.register(capped.id, "carl");
      await api.register(open.id, "olga");
      assert.equal((await api.call(`/invites/${revoked.id}`, { method: "DELETE" })).status, 204);
      await sleep(2_100);

      const byState = Object.fromEntries(
        await Promise.all(
          ["pending", "used", "expired", "revoked"].map(
            async (state) => [state, ids(await api.listAll(state))] as const,
          ),
        ),
      );
      assert.deepEqual(
        Object.fromEntries(
          Object.entries({ used, revoked, expired, pending, capped, open }).map(([name, invite]) => [
            name,
            Object.keys(byState).filter((state) => byState[state]?.includes(invite.id)),
          ]),
        ),
        // A reusable invite without a cap stays pending until it expires, however often used.
        {
          used: ["used"],
          revoked: ["revoked"],
          expired: ["expired"],
          pending: ["pending"],
          capped: ["used"],
          open: ["pending"],
        },
      );

      const shown = async (id: string) => {
        const res = await api.call(`/invites/${id}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body as InviteJson;
      };
      const usedShown = await shown(used.id);
      assert.deepEqual([usedShown.state, usedShown.uses], ["used", 1]);
      assert.equal(usedShown.note, "used");
      assert.ok(Math.abs((usedShown.closed_at ?? 0) - now()) < 60);
      assert.deepEqual(
        usedShown.redemptions?.map((r) => [r.jid, r.deleted]),
        [[`ursula@${HOST}`, false]],
      );
      const cappedShown = await shown(capped.id);
      assert.deepEqual([cappedShown.state, cappedShown.uses, cappedShown.max_uses], ["used", 1, 1]);
      assert.equal((await shown(revoked.id)).state, "revoked");
      const expiredShown = await shown(expired.id);
      assert.deepEqual([expiredShown.state, expiredShown.closed_at], ["expired", expired.expires]);
      const pendingShown = await shown(pending.id);
      assert.deepEqual([pendingShown.state, pendingShown.closed_at], ["pending", null]);
      // Revoking twice, or revoking a used invite: 404, nothing changes.
      assert.equal((await api.call(`/invites/${used.id}`, { method: "DELETE" })).status, 404);
      assert.equal((await shown(used.id)).state, "used");

      for (const bad of [
        "state=done",
        "state=used&state=used",
        "state=used&after=..",
        "state=used&after=nosuchinvite",
      ]) {
        const res = await api.call(`/invites?${bad}`);
        assert.equal(res.status, 400, bad);
      }
    });

    it("pages through the used invites with Link, each once", async () => {
      const made = [];
      for (let i = 0; i < 5; i += 1) made.push(await api.make("account"));
      for (const [i, invite] of made.entries()) await api.register(invite.id, `pager${i}`);
      const first = await api.call("/invites?state=used&limit=2");
      assert.match(first.link ?? "", /^<\/invites\?state=used&limit=2&after=[^>]+>; rel="next"$/);
      const walked = ids(await api.listAll("used", 2));
      assert.equal(new Set(walked).size, walked.length);
      for (const invite of made) assert.ok(walked.includes(invite.id));
      for (const invite of await api.listAll("used", 2)) assert.equal(invite.state, "used");
    });

    it("an admin's own invites stay out of the service's history", async () => {
      const root = await login({ port: prosody.c2sPort, domain: HOST, username: "root", password: "root-password-1" });
      let token: string;
      try {
        const result = await root.execute(HOST, MANAGE_NODE, {});
        assert.equal(result.status, "completed");
        token = result.fields.get("id")?.[0] ?? "";
        assert.ok(token);
      } finally {
        await root.close();
      }
      await api.register(token, "adminpick");
      assert.ok(!ids(await api.listAll("used")).includes(token));
      assert.equal((await api.call(`/invites/${token}`)).status, 404);
    });

    it("a password reset is recorded as used, and counted as a reset", async () => {
      const before = await redeemedMetric(service, "reset");
      prosody.ctl(["register", "resetme", HOST, "old-password-1"]);
      const reset = await api.make("reset", { username: "resetme" });
      await api.register(reset.id, "resetme");
      const shown = (await api.call(`/invites/${reset.id}`)).body as InviteJson;
      assert.deepEqual([shown.state, shown.reset], ["used", true]);
      await eventually(() => redeemedMetric(service, "reset"), before + 1);
    });

    it("records survive a restart of Prosody", async () => {
      const used = await api.make("account");
      await api.register(used.id, "survivor");
      await prosody.kill();
      await prosody.start();
      await waitReady(service.url, 30_000);
      const shown = (await api.call(`/invites/${used.id}`)).body as InviteJson;
      assert.deepEqual([shown.state, shown.redemptions?.map((r) => r.jid)], ["used", [`survivor@${HOST}`]]);
      assert.ok(ids(await api.listAll("used")).includes(used.id));
    });

    it("accounts per key and the redeemed metric: counted once, through a stopped service and two instances", async () => {
      const keyA = await createKey(keyStore, HOST, "A");
      const keyB = await createKey(keyStore, HOST, "B");
      const accounts = async () => [
        (await keyInfo(keyStore, keyA)).accountsRegistered,
        (await keyInfo(keyStore, keyB)).accountsRegistered,
      ];
      const metricBefore = await redeemedMetric(service, "account");

      await api.register((await api.make("account", {}, keyA)).id, "conv1");
      await api.register((await api.make("account", {}, keyA)).id, "conv2");
      await api.register((await api.make("account", {}, keyB)).id, "conv3");
      // Told at once by the module (the poll is a minute away).
      await eventually(accounts, [2, 0 + 1]);
      await eventually(() => redeemedMetric(service, "account"), metricBefore + 3);
      const shown = await keyInfo(keyStore, keyA);
      assert.ok(shown.lastRegistrationAt && Math.abs(Date.parse(shown.lastRegistrationAt) / 1_000 - now()) < 60);
      const text = await runCli(["show", HOST, "--", keyA.split("/")[0] ?? ""], { KEY_STORE: keyStore });
      assert.match(text.stdout, /^accounts:\s+2$/m);
      const listed = await runCli(["list", HOST, "--json"], { KEY_STORE: keyStore });
      const fromList = (JSON.parse(listed.stdout) as KeyInfo[]).find((k) => k.id === keyB.split("/")[0]);
      assert.equal(fromList?.accountsRegistered, 1);

      // Registrations while the service is down are counted when it is back, once.
      const whileDown = await api.make("account", {}, keyB);
      await service.stop();
      await api.register(whileDown.id, "conv4");
      service = await startService(serviceEnv(prosody, COMPONENT, keyStore));
      await waitReady(service.url, 10_000);
      await eventually(accounts, [2, 2]);
      await eventually(() => redeemedMetric(service, "account"), metricBefore + 4);

      // A second instance on the same store: each registration counted once, whoever reads it.
      const second = await startService(serviceEnv(prosody, SECOND, keyStore));
      try {
        await waitReady(second.url, 10_000);
        for (let i = 5; i < 9; i += 1) await api.register((await api.make("account", {}, keyA)).id, `conv${i}`);
        await eventually(accounts, [6, 2]);
        await eventually(() => redeemedMetric(second, "account"), metricBefore + 8);
      } finally {
        await second.stop();
      }
      // A restart recounts nothing: a later registration moves the count by one.
      await service.stop();
      service = await startService(serviceEnv(prosody, COMPONENT, keyStore));
      await waitReady(service.url, 10_000);
      await api.register((await api.make("account", {}, keyB)).id, "conv9");
      await eventually(accounts, [6, 3]);
      await eventually(() => redeemedMetric(service, "account"), metricBefore + 9);
      // The invites made by a deleted key still register; the key is not brought back.
      const gone = await api.make("account", {}, keyB);
      assert.equal((await runCli(["delete", HOST, "--", keyB.split("/")[0] ?? ""], { KEY_STORE: keyStore })).code, 0);
      await api.register(gone.id, "conv10");
      await eventually(() => redeemedMetric(service, "account"), metricBefore + 10);
      assert.equal(
        (await runCli(["show", HOST, "--", keyB.split("/")[0] ?? ""], { KEY_STORE: keyStore })).code !== 0,
        true,
      );
    });

    it("a used invite cannot be used again", async () => {
      const used = await api.make("account", {}, createOnly);
      await api.register(used.id, "once");
      await assert.rejects(api.register(used.id, "twice"), RegistrationError);
    });
  });
}
