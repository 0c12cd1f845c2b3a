import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { component, xml } from "@xmpp/component";
import { MANAGE_MODULES, type RunningProsody } from "../support/prosody.js";
import type { RunningService } from "../support/service.js";
import { createKey, startStack, type RunningStack } from "../support/stack.js";
import { registerWithInvite } from "../support/xmppClient.js";
import { REDEEMED_NUDGE } from "../../src/xmpp/inviteManager.js";
import { NUDGE_MIN_GAP_MS } from "../../src/redemptions/redemptionSync.js";

// mod_invites_manage tells the service at each registration that a record is there to read (a
// "nudge"); each nudge costs Prosody a `redemptions` command. Only the served VirtualHost may start
// a pass that way, and however many nudges arrive, at most one pass a second (issue 26, point 3).
const HOST = "nudge.test";
const COMPONENT = { domain: "invites.nudge.test", secret: "nudge-secret" };
const INTRUDER = { domain: "intruder.nudge.test", secret: "intruder-secret" };

/** The service's passes over the registration records so far, by what started them. */
async function passes(service: RunningService): Promise<Record<string, number>> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const found: Record<string, number> = {};
  for (const [, trigger = "", count = "0"] of text.matchAll(
    /^invites_api_redemption_passes_total\{trigger="(\w+)"\} (\d+)$/gm,
  )) {
    found[trigger] = Number(count);
  }
  return found;
}
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe("registration nudges, against a real Prosody", () => {
  let stack: RunningStack | undefined;
  let prosody: RunningProsody;
  let service: RunningService;
  let key: string;

  before(async () => {
    stack = await startStack(
      {
        hosts: [HOST],
        components: [COMPONENT, INTRUDER],
        admins: [],
        hostOptions: { [HOST]: { modules: MANAGE_MODULES } },
        extra: `invites_manage_jids = { "${COMPONENT.domain}" }\ninvites_manage_groups = { team = "Team" }`,
      },
      // The default interval (60 s): every pass the test sees was started by a nudge or the connection.
      { component: COMPONENT },
    );
    ({ prosody, service } = stack);
    key = await createKey(stack.keyStore, HOST, "manage", "--scope", "manage");
    // The first pass (on connecting) learns the hosts to read.
    const deadline = Date.now() + 10_000;
    while (total(await passes(service)) === 0) {
      assert.ok(Date.now() < deadline, "no pass after the component connected");
      await sleep(50);
    }
  });
  after(() => stack?.stop());

  it("400 forged nudges from another component start no pass", async () => {
    const before = await passes(service);
    const intruder = component({
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: INTRUDER.domain,
      password: INTRUDER.secret,
    });
    intruder.on("error", () => undefined);
    await intruder.start();
    try {
      for (let i = 0; i < 400; i += 1) {
        await intruder.send(
          xml(
            "message",
            { to: COMPONENT.domain, from: INTRUDER.domain, type: "headline" },
            xml("redeemed", { xmlns: REDEEMED_NUDGE }),
          ),
        );
      }
      // A stanza the service answers after the 400 arrive in order: they have all been handled.
      await intruder.iqCaller
        .request(xml("iq", { type: "get", to: COMPONENT.domain }, xml("ping", { xmlns: "urn:xmpp:ping" })), 10_000)
        .catch(() => undefined);
      await sleep(2 * NUDGE_MIN_GAP_MS);
    } finally {
      intruder.reconnect.stop();
      await intruder.stop().catch(() => undefined);
    }
    const after = await passes(service);
    assert.equal(
      total(after) - total(before),
      0,
      `passes before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`,
    );
  });

  it("Prosody's own nudges start passes, at most one a second however many registrations", async () => {
    const res = await fetch(`${service.url}/invites/group`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({ groups: ["team"], max_uses: 100 }),
    });
    assert.equal(res.status, 201);
    const { id: token } = (await res.json()) as { id: string };
    const before = await passes(service);
    const started = Date.now();
    const count = 12;
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        registerWithInvite({
          port: prosody.c2sPort,
          domain: HOST,
          token,
          username: `nudged${i}`,
          password: `nudged${i}-password-1`,
        }),
      ),
    );
    // The last nudge of a burst is followed by a pass: every registration ends up counted.
    const deadline = Date.now() + 15_000;
    let after = await passes(service);
    while ((after.nudge ?? 0) === (before.nudge ?? 0)) {
      assert.ok(Date.now() < deadline, "no pass after the registrations' nudges");
      await sleep(50);
      after = await passes(service);
    }
    await sleep(2 * NUDGE_MIN_GAP_MS);
    after = await passes(service);
    const seconds = (Date.now() - started) / 1_000;
    const nudged = (after.nudge ?? 0) - (before.nudge ?? 0);
    assert.ok(nudged >= 1 && nudged <= Math.ceil(seconds) + 1, `${nudged} passes for ${count} nudges in ${seconds} s`);
    const shown = await fetch(`${service.url}/invites/${encodeURIComponent(token)}`, {
      headers: { Authorization: `Bearer ${key}` },
    });
    assert.equal(shown.status, 200);
  });
});
