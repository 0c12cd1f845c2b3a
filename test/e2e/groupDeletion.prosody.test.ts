import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MANAGE_MODULES, type RunningProsody } from "../support/prosody.js";
import type { RunningService } from "../support/service.js";
import { createKey, startStack, waitReady, type RunningStack } from "../support/stack.js";
import { login, registerWithInvite, type RosterItem } from "../support/xmppClient.js";

// A deleted group member leaves every roster mod_invites_manage put it in, and a newcomer who
// registers the freed name inherits no contact (issue 26, point 7). On 0.12 `prosodyctl deluser`
// deletes in a process of its own, while the server keeps offline users' rosters in a cache.
const HOST = "groups.test";
const COMPONENT = { domain: "invites.groups.test", secret: "groups-secret" };
const on13 = process.env.PROSODY_VERSION === "13";
const DELETE_USER = "http://jabber.org/protocol/admin#delete-user";
const password = (username: string) => `${username}-password-1`;

describe("a deleted group member, against a real Prosody", () => {
  let stack: RunningStack | undefined;
  let prosody: RunningProsody;
  let service: RunningService;
  let key: string;

  before(async () => {
    stack = await startStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: [...MANAGE_MODULES, "admin_adhoc"], admins: [`root@${HOST}`] } },
        extra: [
          `invites_manage_jids = { "${COMPONENT.domain}" }`,
          `invites_manage_groups = { staff = "Staff", crew = "Crew" }`,
        ].join("\n"),
      },
      { component: COMPONENT },
    );
    ({ prosody, service } = stack);
    key = await createKey(stack.keyStore, HOST, "manage", "--scope", "manage");
    prosody.ctl(["register", "root", HOST, password("root")]);
  });
  after(() => stack?.stop());

  async function invite(path: string, body: unknown): Promise<string> {
    const res = await fetch(`${service.url}${path}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 201);
    return ((await res.json()) as { id: string }).id;
  }

  const register = (token: string, username: string) =>
    registerWithInvite({ port: prosody.c2sPort, domain: HOST, token, username, password: password(username) });

  /** The roster as the running server gives it to the account's client. */
  async function rosterOf(username: string): Promise<RosterItem[]> {
    const session = await login({ port: prosody.c2sPort, domain: HOST, username, password: password(username) });
    try {
      return await session.roster();
    } finally {
      await session.close();
    }
  }
  const jidsIn = async (username: string) => (await rosterOf(username)).map((item) => item.jid).sort();

  /** Deletes an account as an admin would: prosodyctl on 0.12 (another process); on 13 the admin's ad-hoc command. */
  async function deleteAccount(username: string): Promise<void> {
    if (!on13) {
      prosody.ctl(["deluser", `${username}@${HOST}`]);
      return;
    }
    const root = await login({ port: prosody.c2sPort, domain: HOST, username: "root", password: password("root") });
    try {
      const done = await root.execute(HOST, DELETE_USER, { accountjids: `${username}@${HOST}` });
      assert.equal(done.status, "completed");
    } finally {
      await root.close();
    }
  }

  it("a newcomer with a deleted member's name inherits no contact, and the others lose the old one", async () => {
    const staff = await invite("/invites/group", { groups: ["staff"], ttl: 600 });
    await register(staff, "carol");
    await register(staff, "dave");
    assert.deepEqual(await jidsIn("dave"), [`carol@${HOST}`]);
    // Online meanwhile: the roster his session holds changes too.
    const daveOnline = await login({
      port: prosody.c2sPort,
      domain: HOST,
      username: "dave",
      password: password("dave"),
    });
    try {
      await deleteAccount("carol");
      await register(await invite("/invites/account", {}), "carol");
      assert.deepEqual(await daveOnline.roster(), [], "dave's session no longer lists carol");
    } finally {
      await daveOnline.close();
    }

    assert.deepEqual(await rosterOf("carol"), [], "the newcomer's roster starts empty");
    assert.deepEqual(await jidsIn("dave"), [], "dave no longer lists carol");
    // The group no longer lists carol: the next member gets dave only, and dave gets the newcomer.
    await register(staff, "erin");
    assert.deepEqual(await jidsIn("erin"), [`dave@${HOST}`]);
    assert.deepEqual(await jidsIn("dave"), [`erin@${HOST}`]);
    assert.deepEqual(await rosterOf("carol"), []);

    await prosody.kill();
    await prosody.start();
    await waitReady(service.url, 30_000);
    assert.deepEqual(await jidsIn("dave"), [`erin@${HOST}`], "after a restart too");
    assert.deepEqual(await rosterOf("carol"), []);
    assert.doesNotMatch(prosody.log(), /Traceback/);
  });

  it("a deleted member whose name nobody takes again leaves the others' rosters too", async () => {
    const crew = await invite("/invites/group", { groups: ["crew"], ttl: 600 });
    await register(crew, "gil");
    await register(crew, "hal");
    await register(crew, "fay");
    assert.deepEqual(await jidsIn("gil"), [`fay@${HOST}`, `hal@${HOST}`]);
    await deleteAccount("fay");
    // 0.12 learns of it at startup (and every hour): prosodyctl told the running server nothing.
    if (!on13) {
      await prosody.kill();
      await prosody.start();
      await waitReady(service.url, 30_000);
    }
    for (const member of ["gil", "hal"]) {
      // The check at startup runs once the server is up: a moment after it listens.
      const deadline = Date.now() + 10_000;
      while ((await jidsIn(member)).includes(`fay@${HOST}`) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.ok(!(await jidsIn(member)).includes(`fay@${HOST}`), `${member} no longer lists fay`);
    }
  });

  it("a newcomer registered with prosodyctl, outside the server, inherits no contact either", async () => {
    const crew = await invite("/invites/group", { groups: ["crew"], ttl: 600 });
    await register(crew, "ivy");
    assert.ok((await jidsIn("gil")).includes(`ivy@${HOST}`));
    await deleteAccount("ivy");
    prosody.ctl(["register", "ivy", HOST, password("ivy")]);
    assert.deepEqual(await rosterOf("ivy"), []);
    assert.ok(!(await jidsIn("gil")).includes(`ivy@${HOST}`));
  });
});
