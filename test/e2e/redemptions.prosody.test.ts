import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MANAGE_MODULES, mostWritesHeldAtOnce, type RunningProsody } from "../support/prosody.js";
import type { RunningService } from "../support/service.js";
import { createKey, startStack, waitReady, withStack, type RunningStack } from "../support/stack.js";
import { login, registerWithInvite, RegistrationError } from "../support/xmppClient.js";
import type { InviteJson } from "../../src/http/invitesResource.js";

// Uses and use caps of reusable invites, and the record of who registered through an invite,
// through real registrations (issue 18, points 1 to 3 in part).
const HOST = "uses.test";
const COMPONENT = { domain: "invites.uses.test", secret: "uses-secret" };

const on13 = process.env.PROSODY_VERSION === "13";
const DELETE_USER = "http://jabber.org/protocol/admin#delete-user";

/** Calls the service's API with a key: a GET, or a POST of `json`. */
async function callApi(service: RunningService, as: string, path: string, json?: unknown) {
  const res = await fetch(`${service.url}${path}`, {
    method: json === undefined ? "GET" : "POST",
    headers: {
      Authorization: `Bearer ${as}`,
      ...(json === undefined ? {} : { "Content-Type": "application/json" }),
    },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  return { status: res.status, body: (await res.json()) as InviteJson };
}

/** Deletes an account as an admin would: prosodyctl on 0.12; on 13 (whose prosodyctl asks the
 * running server) the admin's ad-hoc command. */
async function deleteAccount(prosody: RunningProsody, host: string, username: string): Promise<void> {
  if (!on13) {
    prosody.ctl(["deluser", `${username}@${host}`]);
    return;
  }
  const root = await login({ port: prosody.c2sPort, domain: host, username: "root", password: "root-password-1" });
  try {
    assert.equal((await root.execute(host, DELETE_USER, { accountjids: `${username}@${host}` })).status, "completed");
  } finally {
    await root.close();
  }
}

describe("use caps and registration records, against a real Prosody", () => {
  let prosody: RunningProsody;
  let service: RunningService;
  let stack: RunningStack | undefined;
  let keyStore: string;
  let key: string;
  const keys: Record<string, string> = {};

  before(async () => {
    stack = await startStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: [...MANAGE_MODULES, "admin_adhoc"], admins: [`root@${HOST}`] } },
        extra: [`invites_manage_jids = { "${COMPONENT.domain}" }`, `invites_manage_groups = { team = "Team" }`].join(
          "\n",
        ),
      },
      { component: COMPONENT },
    );
    ({ prosody, service, keyStore } = stack);
    key = await createKey(keyStore, HOST, "manage", "--scope", "manage");
    prosody.ctl(["register", "taken", HOST, "taken-password-1"]);
    prosody.ctl(["register", "root", HOST, "root-password-1"]);
    keys.create = await createKey(keyStore, HOST, "sign-up page");
  });
  after(() => stack?.stop());

  const call = (path: string, json?: unknown, as = key) => callApi(service, as, path, json);
  const register = (token: string, username: string) =>
    registerWithInvite({ port: prosody.c2sPort, domain: HOST, token, username, password: `${username}-password-1` });

  it("a registration that fails (a taken name) uses nothing up", async () => {
    const made = await call("/invites/group", { groups: ["team"], ttl: 600, max_uses: 1 });
    await assert.rejects(register(made.body.id, "taken"), RegistrationError);
    await register(made.body.id, "fay");
    assert.equal((await call(`/invites/${made.body.id}`)).body.uses, 1);
  });

  it("uses are counted for every reusable invite, and kept across a restart of Prosody", async () => {
    const made = await call("/invites/group", { groups: ["team"], ttl: 600 });
    assert.equal(made.body.max_uses, null);
    await register(made.body.id, "gus");
    await register(made.body.id, "hal");
    await prosody.kill();
    await prosody.start();
    await waitReady(service.url, 30_000);
    const shown = await call(`/invites/${made.body.id}`);
    assert.equal(shown.body.uses, 2);
    assert.deepEqual(shown.body.redemptions?.map((r) => r.jid).sort(), [`gus@${HOST}`, `hal@${HOST}`]);
    await register(made.body.id, "ivy");
    assert.equal((await call(`/invites/${made.body.id}`)).body.uses, 3);
  });

  it("max_uses is for reusable invites: a bad value is a 400 naming it", async () => {
    for (const max_uses of [0, -1, 1.5, "3", 1_000_001]) {
      const res = await call("/invites/group", { groups: ["team"], max_uses });
      assert.equal(res.status, 400, String(max_uses));
    }
    assert.equal((await call("/invites/account", { max_uses: 2 })).status, 400);
  });

  it("which invite let an account in, made by which key: GET /accounts/{jid}/invite", async () => {
    const made = await call("/invites/account", {}, keys.create);
    await register(made.body.id, "kim");
    for (const jid of [`kim@${HOST}`, "kim", `kim@${HOST.toUpperCase()}`]) {
      const res = await call(`/accounts/${encodeURIComponent(jid)}/invite`);
      assert.equal(res.status, 200, jid);
      const body = res.body as unknown as { jid: string; invite: string; key: string; at: number; source: string };
      assert.equal(body.jid, `kim@${HOST}`);
      assert.equal(body.invite, made.body.id);
      assert.equal(body.key, keys.create?.split("/")[0]);
      assert.equal(body.source, `invites-api/${body.key}`);
      assert.ok(Math.abs(body.at - Date.now() / 1_000) < 60);
    }
    // No invite behind it, no such account, another host: 404; a create key may not ask: 403.
    for (const jid of ["taken", "nobody", "kim@elsewhere.test"]) {
      assert.equal((await call(`/accounts/${encodeURIComponent(jid)}/invite`)).status, 404, jid);
    }
    assert.equal((await call(`/accounts/kim/invite`, undefined, keys.create)).status, 403);
  });

  it("a deleted account's record says so, even once its name is registered again", async () => {
    const group = await call("/invites/group", { groups: ["team"], ttl: 600 });
    await register(group.body.id, "lee");
    await register(group.body.id, "mo");
    await deleteAccount(prosody, HOST, "lee");
    const plain = await call("/invites/account", {});
    await register(plain.body.id, "lee");
    const shown = await call(`/invites/${group.body.id}`);
    const byJid = new Map(shown.body.redemptions?.map((r) => [r.jid, r.deleted]));
    assert.equal(byJid.get(`lee@${HOST}`), true, "lee of the group invite was deleted");
    assert.equal(byJid.get(`mo@${HOST}`), false);
    assert.equal(((await call(`/accounts/lee/invite`)).body as unknown as { invite: string }).invite, plain.body.id);
  });
});

// With Prosody's own storage drivers nothing yields between user-registering and user-registered,
// so registrations never overlap there. A storage or auth backend on the network waits on I/O: the
// session's runner yields and Prosody serves other sessions meanwhile. mod_storage_yielding (a test
// module) makes the account store and the module's count of uses wait so.
describe("a use cap under registrations that overlap in Prosody (storage that waits on I/O)", () => {
  let stack: RunningStack | undefined;
  before(async () => {
    stack = await startStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: MANAGE_MODULES } },
        storeDrivers: { accounts: "yielding", invites_manage_uses: "yielding" },
        extra: [`invites_manage_jids = { "${COMPONENT.domain}" }`, `invites_manage_groups = { team = "Team" }`].join(
          "\n",
        ),
      },
      { component: COMPONENT },
    );
  });
  after(() => stack?.stop());

  it("a reusable invite capped at N: of N+1 overlapping registrations exactly N succeed, and N are counted", async () => {
    assert.ok(stack);
    const { prosody, service } = stack;
    const key = await createKey(stack.keyStore, HOST, "manage", "--scope", "manage");
    const made = await callApi(service, key, "/invites/group", { groups: ["team"], ttl: 600, max_uses: 3 });
    assert.equal(made.status, 201);
    assert.equal(made.body.max_uses, 3);
    assert.equal(made.body.uses, 0);
    const register = (username: string) =>
      registerWithInvite({
        port: prosody.c2sPort,
        domain: HOST,
        token: made.body.id,
        username,
        password: `${username}-password-1`,
      });
    const names = ["ana", "ben", "cai", "dev"];
    const logFrom = prosody.log().length;
    const outcomes = await Promise.allSettled(names.map((name) => register(name)));
    // Not vacuous: Prosody had several of them past user-registering and not yet registered at once.
    const atOnce = mostWritesHeldAtOnce(prosody.log().slice(logFrom));
    assert.ok(atOnce >= 2, `the registrations did not overlap (at most ${atOnce} at once)`);
    const succeeded = names.filter((_, i) => outcomes[i]?.status === "fulfilled");
    assert.equal(succeeded.length, 3, JSON.stringify(outcomes.map((o) => o.status)));
    const refused = outcomes.find((o) => o.status === "rejected");
    assert.ok(refused?.status === "rejected" && refused.reason instanceof RegistrationError);
    // A use is counted, and the registration recorded, when the handlers of user-registered run, which
    // may be after the client has its answer. Each counted, none lost to another count written at
    // the same time, nothing more let in.
    const show = () => callApi(service, key, `/invites/${made.body.id}`);
    let shown = await show();
    const counted = () => shown.body.uses === 3 && shown.body.redemptions?.length === 3;
    for (const deadline = Date.now() + 10_000; !counted() && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      shown = await show();
    }
    assert.equal(shown.body.uses, 3);
    await assert.rejects(register("eve"), RegistrationError);
    assert.deepEqual(shown.body.redemptions?.map((r) => r.jid).sort(), succeeded.map((n) => `${n}@${HOST}`).sort());
    for (const r of shown.body.redemptions ?? []) assert.ok(Math.abs(r.at - Date.now() / 1_000) < 60);
  });
});

describe("the registration records' window (invites_manage_history_days)", () => {
  it("prunes records older than the window, keeps the count of uses", async () => {
    await withStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: MANAGE_MODULES } },
        extra: [
          `invites_manage_jids = { "${COMPONENT.domain}" }`,
          `invites_manage_groups = { team = "Team" }`,
          "invites_manage_history_days = 2 / 86400 -- two seconds",
        ].join("\n"),
      },
      { component: COMPONENT },
      async ({ prosody, service, keyStore }) => {
        const manage = await createKey(keyStore, HOST, "manage", "--scope", "manage");
        const call = async (path: string, json?: unknown) => {
          const res = await fetch(`${service.url}${path}`, {
            method: json === undefined ? "GET" : "POST",
            headers: { Authorization: `Bearer ${manage}`, "Content-Type": "application/json" },
            ...(json === undefined ? {} : { body: JSON.stringify(json) }),
          });
          return (await res.json()) as InviteJson;
        };
        const group = await call("/invites/group", { groups: ["team"], ttl: 600 });
        const register = (username: string) =>
          registerWithInvite({
            port: prosody.c2sPort,
            domain: HOST,
            token: group.id,
            username,
            password: `${username}-password-1`,
          });
        await register("old");
        assert.deepEqual(
          (await call(`/invites/${group.id}`)).redemptions?.map((r) => r.jid),
          [`old@${HOST}`],
        );
        // A single-use invite used now: in the history, until the window passes it.
        const single = await call("/invites/account", {});
        await registerWithInvite({
          port: prosody.c2sPort,
          domain: HOST,
          token: single.id,
          username: "single",
          password: "single-password-1",
        });
        const usedIds = async () => ((await call("/invites?state=used")) as unknown as InviteJson[]).map((i) => i.id);
        assert.deepEqual(await usedIds(), [single.id]);
        await new Promise((resolve) => setTimeout(resolve, 3_500));
        await register("new");
        const shown = await call(`/invites/${group.id}`);
        assert.deepEqual(
          shown.redemptions?.map((r) => r.jid),
          [`new@${HOST}`],
          "the older record is pruned",
        );
        assert.equal(shown.uses, 2, "uses are not records: both count");
        assert.deepEqual(await usedIds(), [], "the used invite is pruned from the history");
        const gone = await fetch(`${service.url}/invites/${single.id}`, {
          headers: { Authorization: `Bearer ${manage}` },
        });
        assert.equal(gone.status, 404);
      },
    );
  });
});
