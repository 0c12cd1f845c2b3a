import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { xml, type Element } from "@xmpp/component";
import { AppError } from "../../src/errors.js";
import { createInviteDoor } from "../../src/xmpp/inviteDoorCommands.js";
import { createInviteManager, MANAGE_NODES } from "../../src/xmpp/inviteManager.js";
import { createOperatorControls } from "../../src/xmpp/operatorControlsCommands.js";

// The operator's controls (issue 30) over a fake host: the budget and update commands, and what
// the feed, landing and redeem of mod_invites_manage say of them.
const NS_COMMANDS = "http://jabber.org/protocol/commands";
const HOST = "o.test";

const fields = (values: Record<string, string[]>) =>
  Object.entries(values).map(([name, list]) => xml("field", { var: name }, ...list.map((v) => xml("value", {}, v))));
const completed = (node: string, ...form: Element[]) =>
  xml("iq", { type: "result" }, xml("command", { xmlns: NS_COMMANDS, node, status: "completed" }, ...form));
const resultForm = (values: Record<string, string[]>) =>
  xml("x", { xmlns: "jabber:x:data", type: "result" }, ...fields(values));
const stanzaError = (condition: string, text: string) =>
  Object.assign(new Error(condition), { name: "StanzaError", condition, text });

function harness(answer: (node: string) => Element, nodes: readonly string[] = Object.values(MANAGE_NODES)) {
  const sent: Element[] = [];
  const ctx = {
    componentJid: "invites.o.test",
    timeoutMs: 1000,
    request: async (stanza: Element) => {
      sent.push(stanza);
      return answer(stanza.getChild("command", NS_COMMANDS)?.attrs.node ?? "");
    },
  };
  const commands = async () => nodes;
  /** The values the last command sent, by field; undefined when it sent no form. */
  const form = () => {
    const x = sent.at(-1)?.getChild("command", NS_COMMANDS)?.getChild("x", "jabber:x:data");
    return (
      x && new Map(x.getChildren("field").map((f) => [f.attrs.var, f.getChildren("value").map((v) => v.getText())]))
    );
  };
  return {
    controls: createOperatorControls(ctx, commands),
    manager: createInviteManager(ctx, commands),
    door: createInviteDoor(ctx, commands),
    form,
    node: () => sent.at(-1)?.getChild("command", NS_COMMANDS)?.attrs.node,
  };
}

const code = (expected: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, expected);
  if (message) assert.match(err.message, message);
  return true;
};

const INVITE = {
  id: ["Tok1"],
  type: ["register"],
  reusable: ["true"],
  jid: [HOST],
  uri: ["xmpp:o.test?register;preauth=Tok1"],
  created: ["1800000000"],
  expires: ["1800003600"],
  uses: ["2"],
  "max-uses": ["5"],
  note: ["kept"],
  ref: ["row 7"],
};

describe("the registration budget (mod_invites_manage's budget command)", () => {
  it("reads the state without a form", async () => {
    const h = harness((node) =>
      completed(
        node,
        resultForm({ count: ["10"], window: ["86400"], paused: ["false"], used: ["3"], "resets-at": ["1800086400"] }),
      ),
    );
    const budget = await h.controls.budget(HOST);
    assert.deepEqual(budget, {
      limit: { count: 10, windowSeconds: 86400 },
      paused: false,
      used: 3,
      resetsAt: 1800086400,
    });
    assert.equal(h.node(), MANAGE_NODES.budget);
    assert.equal(h.form(), undefined);
  });

  it("without a limit there is none, nor a reset time", async () => {
    const h = harness((node) => completed(node, resultForm({ paused: ["true"], used: ["0"] })));
    assert.deepEqual(await h.controls.budget(HOST), { paused: true, used: 0 });
  });

  it("sets a limit and the pause, saying who asked", async () => {
    const h = harness((node) => completed(node, resultForm({ paused: ["true"], used: ["0"] })));
    await h.controls.setBudget(HOST, { limit: { count: 50, windowSeconds: 86400 }, paused: true }, "invites-api/k1");
    assert.deepEqual(
      h.form(),
      new Map([
        ["actor", ["invites-api/k1"]],
        ["count", ["50"]],
        ["window", ["86400"]],
        ["paused", ["true"]],
      ]),
    );
  });

  it("limit null clears it; an absent pause stays as it is", async () => {
    const h = harness((node) => completed(node, resultForm({ paused: ["false"], used: ["0"] })));
    await h.controls.setBudget(HOST, { limit: null }, "a");
    assert.deepEqual(
      h.form(),
      new Map([
        ["actor", ["a"]],
        ["clear", ["true"]],
      ]),
    );
  });

  it("a reply without the state is a bad reply, not a budget of nothing", async () => {
    const h = harness((node) => completed(node, resultForm({ count: ["1"] })));
    await assert.rejects(h.controls.budget(HOST), { name: "ProsodyBadReplyError" });
  });

  it("a module without the command is named, so the operator knows to update it", async () => {
    const old = Object.values(MANAGE_NODES).filter((n) => n !== MANAGE_NODES.budget);
    const h = harness(() => assert.fail("nothing is sent"), old);
    await assert.rejects(h.controls.budget(HOST), code("not_implemented", /update mod_invites_manage/));
    const none = harness(() => assert.fail("nothing is sent"), []);
    await assert.rejects(none.controls.budget(HOST), code("not_implemented", /load "invites_manage"/));
  });

  it("a refused value is the client's bad request", async () => {
    const h = harness(() => {
      throw stanzaError("bad-request", "window must be a whole number of seconds from 1 to 31622400");
    });
    await assert.rejects(
      h.controls.setBudget(HOST, { limit: { count: 1, windowSeconds: 0 } }, "a"),
      code("bad_request", /window/),
    );
  });
});

describe("a pending invite's upkeep (mod_invites_manage's update command)", () => {
  it("sends what changes and reads the invite back", async () => {
    const h = harness((node) => completed(node, resultForm(INVITE)));
    const invite = await h.controls.updateInvite(HOST, "Tok1", { ttl: 600, maxUses: 5 }, "invites-api/k1");
    assert.equal(h.node(), MANAGE_NODES.update);
    assert.deepEqual(
      h.form(),
      new Map([
        ["id", ["Tok1"]],
        ["actor", ["invites-api/k1"]],
        ["ttl", ["600"]],
        ["max_uses", ["5"]],
      ]),
    );
    assert.equal(invite.id, "Tok1");
    assert.equal(invite.maxUses, 5);
    assert.equal(invite.ref, "row 7");
  });

  it("null removes a cap or a note: the field goes empty", async () => {
    const h = harness((node) => completed(node, resultForm(INVITE)));
    await h.controls.updateInvite(HOST, "Tok1", { maxUses: null, note: null }, "a");
    assert.deepEqual(h.form()?.get("max_uses"), [""]);
    assert.deepEqual(h.form()?.get("note"), [""]);
    assert.equal(h.form()?.has("ttl"), false);
  });

  it("an invite not pending or not the caller's is invite_not_found; a refused value a bad request", async () => {
    const gone = harness(() => {
      throw stanzaError("item-not-found", "no pending invite with this id");
    });
    await assert.rejects(gone.controls.updateInvite(HOST, "Tok1", { ttl: 60 }, "a"), code("invite_not_found"));
    const below = harness(() => {
      throw stanzaError("bad-request", "max_uses must be above the 2 uses it has");
    });
    await assert.rejects(below.controls.updateInvite(HOST, "Tok1", { maxUses: 1 }, "a"), code("bad_request", /2 uses/));
  });

  it("other refusals stay Prosody's", async () => {
    const h = harness(() => {
      throw stanzaError("internal-server-error", "could not change the invite");
    });
    await assert.rejects(h.controls.updateInvite(HOST, "Tok1", { ttl: 60 }, "a"), { name: "ProsodyRefusedError" });
  });

  it("show reads the changes the history keeps", async () => {
    const h = harness((node) =>
      completed(
        node,
        resultForm({
          ...INVITE,
          changes: ["1800000100 invites.o.test invites-api/k1 expires=1800000700", "1800000200 root@o.test - no-note"],
        }),
      ),
    );
    const invite = await h.manager.show(HOST, "Tok1");
    assert.deepEqual(invite.changes, [
      { at: 1800000100, by: "invites.o.test", actor: "invites-api/k1", what: "expires=1800000700" },
      { at: 1800000200, by: "root@o.test", what: "no-note" },
    ]);
  });
});

describe("the feed's kinds, ref and the pause on the invite page", () => {
  const table = (items: Array<Record<string, string>>) =>
    xml(
      "x",
      { xmlns: "jabber:x:data", type: "result" },
      ...fields({ more: ["false"] }),
      ...items.map((item) =>
        xml("item", {}, ...fields(Object.fromEntries(Object.entries(item).map(([k, v]) => [k, [v]])))),
      ),
    );
  const base = { cursor: "1.a", id: "", jid: "", at: "1800000000", source: "", reset: "false", ref: "", actor: "" };

  it("asks for kinds only when told, and reads each record's kind and fields", async () => {
    const h = harness((node) =>
      completed(
        node,
        table([
          { ...base, kind: "registered", id: "T1", jid: "a@o.test", source: "invites-api/k", ref: "r1" },
          { ...base, kind: "expired", id: "T2", expires: "1799999990", ref: "r2" },
          { ...base, kind: "paused", actor: "invites-api/k" },
          { ...base, kind: "budget_exhausted", count: "10", window: "5", "resets-at": "1800000005" },
        ]),
      ),
    );
    const page = await h.manager.redemptions(HOST, { max: 10, kinds: true });
    assert.deepEqual(h.form()?.get("kinds"), ["true"]);
    assert.deepEqual(
      page.records.map((r) => [r.kind, r.id, r.jid, r.at, r.ref, r.actor, r.budget]),
      [
        ["registered", "T1", "a@o.test", 1800000000, "r1", undefined, undefined],
        ["expired", "T2", "", 1799999990, "r2", undefined, undefined],
        ["paused", "", "", 1800000000, undefined, "invites-api/k", undefined],
        [
          "budget_exhausted",
          "",
          "",
          1800000000,
          undefined,
          undefined,
          { count: 10, windowSeconds: 5, resetsAt: 1800000005 },
        ],
      ],
    );
    await h.manager.redemptions(HOST, { max: 10 });
    assert.equal(h.form()?.has("kinds"), false);
  });

  it("an older module's records (no kind) are registrations or resets", async () => {
    const h = harness((node) =>
      completed(
        node,
        table([
          { ...base, id: "T1", jid: "a@o.test" },
          { ...base, id: "T2", jid: "b@o.test", reset: "true" },
        ]),
      ),
    );
    const page = await h.manager.redemptions(HOST, { max: 10 });
    assert.deepEqual(
      page.records.map((r) => r.kind),
      ["registered", "reset"],
    );
  });

  it("a registration without its account, or an unknown kind, is a bad reply: never skipped", async () => {
    for (const item of [
      { ...base, kind: "registered", id: "T1" },
      { ...base, kind: "expired" },
      { ...base, kind: "exploded", id: "T1", jid: "a@o.test" },
    ]) {
      const h = harness((node) => completed(node, table([item])));
      await assert.rejects(h.manager.redemptions(HOST, { max: 10, kinds: true }), { name: "ProsodyBadReplyError" });
    }
  });

  it("creates send ref; account reads it back", async () => {
    const h = harness((node) =>
      completed(node, resultForm(node === MANAGE_NODES.account ? { id: ["T1"], at: ["1"], ref: ["r9"] } : INVITE)),
    );
    await h.manager.createGroup(HOST, { groups: ["team"], source: "s", ref: "row 7" });
    assert.deepEqual(h.form()?.get("ref"), ["row 7"]);
    await h.manager.createReset(HOST, { username: "ann", source: "s", ref: "r" });
    assert.deepEqual(h.form()?.get("ref"), ["r"]);
    assert.equal((await h.manager.account(HOST, "ann")).ref, "r9");
  });

  it("landing says a paused host; redeem's policy-violation is registrations_closed with its text", async () => {
    const h = harness((node) =>
      completed(node, resultForm({ state: ["pending"], kind: ["account"], expires: ["1800003600"], paused: ["true"] })),
    );
    assert.equal((await h.door.landing(HOST, "Tok1")).paused, true);
    const paused = harness(() => {
      throw stanzaError("policy-violation", "registrations are paused");
    });
    await assert.rejects(
      paused.door.redeem(HOST, "Tok1", { username: "a", password: "a-password-1" }),
      code("registrations_closed", /^registrations are paused$/),
    );
    const until = new Date(Date.now() + 120_000).toISOString().replace(/\.\d+Z$/, "Z");
    const spent = harness(() => {
      throw stanzaError("policy-violation", `the registration budget is used up until ${until}`);
    });
    await assert.rejects(spent.door.redeem(HOST, "Tok1", { username: "a", password: "a-password-1" }), (err) => {
      assert.ok(err instanceof AppError && err.code === "registrations_closed");
      assert.match(err.message, /budget is used up until/);
      assert.ok(err.retryAfterSeconds !== undefined && err.retryAfterSeconds > 100 && err.retryAfterSeconds <= 120);
      return true;
    });
  });
});
