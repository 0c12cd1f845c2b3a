import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MANAGE_MODULES, startProsody, type RunningProsody } from "../support/prosody.js";
import { startService, type RunningService } from "../support/service.js";
import { createKey, freshKeyStore, serviceEnv, waitReady } from "../support/stack.js";
import { registerWithInvite, RegistrationError } from "../support/xmppClient.js";

// Uses and use caps of reusable invites, and the record of who registered through an invite,
// through real registrations (issue 18, points 1 to 3 in part).
const HOST = "uses.test";
const COMPONENT = { domain: "invites.uses.test", secret: "uses-secret" };

interface InviteJson {
  id: string;
  uses: number;
  max_uses: number | null;
  redemptions?: Array<{ jid: string; at: number }>;
}

describe("use caps and registration records, against a real Prosody", () => {
  let prosody: RunningProsody;
  let service: RunningService;
  let key: string;

  before(async () => {
    prosody = await startProsody({
      hosts: [HOST],
      components: [COMPONENT],
      admins: [],
      hostOptions: { [HOST]: { modules: MANAGE_MODULES } },
      extra: [`invites_manage_jids = { "${COMPONENT.domain}" }`, `invites_manage_groups = { team = "Team" }`].join(
        "\n",
      ),
    });
    const keyStore = freshKeyStore();
    service = await startService(serviceEnv(prosody, COMPONENT, keyStore));
    await waitReady(service.url, 10_000);
    key = await createKey(keyStore, HOST, "manage", "--scope", "manage");
    prosody.ctl(["register", "taken", HOST, "taken-password-1"]);
  });
  after(async () => {
    await service?.stop();
    await prosody?.dispose();
  });

  const call = async (path: string, json?: unknown) => {
    const res = await fetch(`${service.url}${path}`, {
      method: json === undefined ? "GET" : "POST",
      headers: {
        Authorization: `Bearer ${key}`,
        ...(json === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
    return { status: res.status, body: (await res.json()) as InviteJson };
  };
  const register = (token: string, username: string) =>
    registerWithInvite({ port: prosody.c2sPort, domain: HOST, token, username, password: `${username}-password-1` });

  it("a reusable invite capped at N: of N+1 racing registrations exactly N succeed", async () => {
    const made = await call("/invites/group", { groups: ["team"], ttl: 600, max_uses: 3 });
    assert.equal(made.status, 201);
    assert.equal(made.body.max_uses, 3);
    assert.equal(made.body.uses, 0);
    const names = ["ana", "ben", "cai", "dev"];
    const outcomes = await Promise.allSettled(names.map((name) => register(made.body.id, name)));
    const succeeded = names.filter((_, i) => outcomes[i]?.status === "fulfilled");
    assert.equal(succeeded.length, 3, JSON.stringify(outcomes.map((o) => o.status)));
    const refused = outcomes.find((o) => o.status === "rejected");
    assert.ok(refused?.status === "rejected" && refused.reason instanceof RegistrationError);
    await assert.rejects(register(made.body.id, "eve"), RegistrationError);
    const shown = await call(`/invites/${made.body.id}`);
    assert.equal(shown.body.uses, 3);
    assert.deepEqual(shown.body.redemptions?.map((r) => r.jid).sort(), succeeded.map((n) => `${n}@${HOST}`).sort());
    for (const r of shown.body.redemptions ?? []) assert.ok(Math.abs(r.at - Date.now() / 1_000) < 60);
  });

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
});
