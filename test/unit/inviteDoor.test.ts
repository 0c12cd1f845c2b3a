import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { xml, type Element } from "@xmpp/component";
import { AppError } from "../../src/errors.js";
import { createInviteDoor } from "../../src/xmpp/inviteDoorCommands.js";
import { MANAGE_NODES } from "../../src/xmpp/inviteManager.js";

const NS_COMMANDS = "http://jabber.org/protocol/commands";
const HOST = "e.test";

const resultForm = (values: Record<string, string[]>) =>
  xml(
    "x",
    { xmlns: "jabber:x:data", type: "result" },
    ...Object.entries(values).map(([name, list]) =>
      xml("field", { var: name }, ...list.map((v) => xml("value", {}, v))),
    ),
  );
const completed = (node: string, values: Record<string, string[]>) =>
  xml("iq", { type: "result" }, xml("command", { xmlns: NS_COMMANDS, node, status: "completed" }, resultForm(values)));
const stanzaError = (condition: string, text: string) =>
  Object.assign(new Error(condition), { name: "StanzaError", condition, text });

/** A door over a fake host offering `nodes`, answering each command with `answer`. */
function harness(answer: (node: string) => Element, nodes: readonly string[] = Object.values(MANAGE_NODES)) {
  const sent: Element[] = [];
  const ctx = {
    componentJid: "invites.e.test",
    timeoutMs: 1000,
    request: async (stanza: Element) => {
      sent.push(stanza);
      return answer(stanza.getChild("command", NS_COMMANDS)?.attrs.node ?? "");
    },
  };
  const door = createInviteDoor(ctx, async () => nodes);
  /** The values the last command sent, by field. */
  const form = () => {
    const fields = sent.at(-1)?.getChild("command", NS_COMMANDS)?.getChild("x", "jabber:x:data")?.getChildren("field");
    return new Map(fields?.map((f) => [f.attrs.var, f.getChildren("value").map((v) => v.getText())]));
  };
  return { door, sent, form };
}

const refusing =
  (condition: string, text = "") =>
  () => {
    throw stanzaError(condition, text);
  };
const code = (expected: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, expected);
  if (message) assert.match(err.message, message);
  return true;
};

describe("the invite page's door (mod_invites_manage's landing, name and redeem)", () => {
  it("landing sends the token and reads what the page may show", async () => {
    const { door, sent, form } = harness((node) =>
      completed(node, {
        state: ["pending"],
        kind: ["account"],
        inviter: ["ann@e.test"],
        groups: ["Team", "Staff"],
        uri: ["xmpp:e.test?register;preauth=-Tok1"],
        expires: ["1800003600"],
        "uses-left": ["3"],
      }),
    );
    const landing = await door.landing(HOST, "-Tok1");
    assert.deepEqual(landing, {
      host: HOST,
      state: "pending",
      kind: "account",
      inviter: "ann@e.test",
      groups: ["Team", "Staff"],
      uri: "xmpp:e.test?register;preauth=-Tok1",
      expires: 1800003600,
      usesLeft: 3,
    });
    assert.equal(sent.at(-1)?.getChild("command", NS_COMMANDS)?.attrs.node, MANAGE_NODES.landing);
    assert.deepEqual(form().get("token"), ["-Tok1"]);
  });

  it("landing of a used reset: no uri, the account named", async () => {
    const { door } = harness((node) =>
      completed(node, { state: ["used"], kind: ["reset"], username: ["bob"], groups: [], expires: ["1800003600"] }),
    );
    assert.deepEqual(await door.landing(HOST, "Tok2"), {
      host: HOST,
      state: "used",
      kind: "reset",
      username: "bob",
      groups: [],
      expires: 1800003600,
    });
  });

  it("a malformed token is an unknown invite, and never reaches the stream", async () => {
    const { door, sent } = harness(() => assert.fail("sent"));
    for (const token of ["", "a b", "tok/1", "t".repeat(65), "tok\u0000", "tök"]) {
      await assert.rejects(door.landing(HOST, token), code("invite_not_found"), JSON.stringify(token));
      await assert.rejects(door.checkName(HOST, token, "ann"), code("invite_not_found"));
      await assert.rejects(door.redeem(HOST, token, { password: "long enough" }), code("invite_not_found"));
    }
    assert.equal(sent.length, 0);
  });

  it("maps the module's refusals: item-not-found, gone, conflict, not-acceptable, not-allowed", async () => {
    const cases: Array<[string, string]> = [
      ["item-not-found", "invite_not_found"],
      ["gone", "invite_gone"],
      ["conflict", "user_exists"],
      ["not-acceptable", "bad_request"],
      ["bad-request", "bad_request"],
      ["not-allowed", "account_protected"],
      ["feature-not-implemented", "not_implemented"],
      ["internal-server-error", "prosody_refused"],
    ];
    for (const [condition, expected] of cases) {
      const { door } = harness(refusing(condition, "password must be at least 8 characters"));
      await assert.rejects(
        door.redeem(HOST, "Tok1", { username: "ann", password: "secret-pw" }),
        code(expected),
        condition,
      );
    }
    const { door } = harness(refusing("not-acceptable", "password must be at least 8 characters"));
    await assert.rejects(
      door.redeem(HOST, "Tok1", { password: "short" }),
      code("bad_request", /at least 8 characters/),
    );
  });

  it("a host without mod_invites_manage, or with one from before the door, is not_implemented", async () => {
    const without = harness(() => assert.fail("sent"), []);
    await assert.rejects(without.door.landing(HOST, "Tok1"), code("not_implemented", /load "invites_manage"/));
    const older = harness(() => assert.fail("sent"), [MANAGE_NODES.createAccount, MANAGE_NODES.list]);
    await assert.rejects(older.door.landing(HOST, "Tok1"), code("not_implemented", /update mod_invites_manage/));
    await assert.rejects(older.door.redeem(HOST, "Tok1", { password: "long enough" }), code("not_implemented"));
  });

  it("an answer without state or kind is a bad reply", async () => {
    const { door } = harness((node) => completed(node, { kind: ["account"], expires: ["1"] }));
    await assert.rejects(door.landing(HOST, "Tok1"), code("prosody_bad_reply"));
  });

  it("checkName sends token and name and reads free, taken or invalid", async () => {
    for (const availability of ["free", "taken", "invalid"]) {
      const { door, form } = harness((node) => completed(node, { availability: [availability] }));
      assert.equal(await door.checkName(HOST, "Tok1", "ann"), availability);
      assert.deepEqual(form().get("username"), ["ann"]);
      assert.deepEqual(form().get("token"), ["Tok1"]);
    }
  });

  it("checkName: a name too long, empty or with a character XML forbids is invalid without asking", async () => {
    const { door, sent } = harness(() => assert.fail("sent"));
    for (const name of ["", "a".repeat(1024), "é".repeat(512), "a\u0001b"]) {
      assert.equal(await door.checkName(HOST, "Tok1", name), "invalid", JSON.stringify(name.slice(0, 10)));
    }
    assert.equal(sent.length, 0);
  });

  it("redeem sends token, name, password and a valid client address; answers the JID", async () => {
    const { door, form } = harness((node) => completed(node, { jid: ["ann@e.test"] }));
    assert.deepEqual(
      await door.redeem(HOST, "Tok1", { username: "ann", password: "pässword 1", ip: "::ffff:192.0.2.7" }),
      { jid: "ann@e.test" },
    );
    assert.deepEqual(form().get("password"), ["pässword 1"]);
    assert.deepEqual(form().get("ip"), ["192.0.2.7"], "an IPv4-mapped address as IPv4");
    await door.redeem(HOST, "Tok1", { password: "pässword 1", ip: "2001:db8::1" });
    assert.deepEqual(form().get("ip"), ["2001:db8::1"]);
    assert.equal(form().get("username"), undefined, "no name: none sent (a reset, a named invite)");
  });

  it("redeem drops a client address that is not one", async () => {
    const { door, form } = harness((node) => completed(node, { jid: ["ann@e.test"] }));
    for (const ip of ["", "example.com", "1.2.3", "0x7f.0.0.1", "::1 ; drop", "<x/>"]) {
      await door.redeem(HOST, "Tok1", { username: "ann", password: "long enough", ip });
      assert.equal(form().get("ip"), undefined, ip);
    }
  });

  it("redeem refuses a password over 1023 bytes or with a character XML forbids, never naming it", async () => {
    const { door, sent } = harness(() => assert.fail("sent"));
    const passwords = ["x".repeat(1024), "é".repeat(512), "secret\u0001password", "secret\uFFFEpassword"];
    for (const password of passwords) {
      await assert.rejects(
        door.redeem(HOST, "Tok1", { username: "ann", password }),
        (err: unknown) => code("bad_request", /^password /)(err) && !(err as Error).message.includes("secret"),
      );
    }
    await assert.rejects(
      door.redeem(HOST, "Tok1", { username: "a".repeat(1024), password: "long enough" }),
      code("bad_request", /username/),
    );
    assert.equal(sent.length, 0);
  });

  it("a password of exactly 1023 bytes is sent", async () => {
    const { door, form } = harness((node) => completed(node, { jid: ["ann@e.test"] }));
    await door.redeem(HOST, "Tok1", { username: "ann", password: "p".repeat(1023) });
    assert.equal(form().get("password")?.[0]?.length, 1023);
  });
});
