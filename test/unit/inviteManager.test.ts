import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { xml, type Element } from "@xmpp/component";
import { pino } from "pino";
import { AppError } from "../../src/errors.js";
import { ProsodyRefusedError } from "../../src/xmpp/errors.js";
import { createInviteIssuer } from "../../src/xmpp/inviteIssuer.js";
import { cachedCommands, COMMANDS_TTL_MS } from "../../src/xmpp/adhoc.js";
import { createInviteManager, MANAGE_NODES } from "../../src/xmpp/inviteManager.js";

const NS_COMMANDS = "http://jabber.org/protocol/commands";
const NS_ITEMS = "http://jabber.org/protocol/disco#items";

const field = (name: string, values: string[]) =>
  xml("field", { var: name }, ...values.map((v) => xml("value", {}, v)));
const INVITE = {
  id: ["Tok-1"],
  type: ["register"],
  reusable: ["true"],
  jid: ["e.test"],
  uri: ["xmpp:e.test?register;preauth=Tok-1"],
  "landing-url": ["https://e.test/invite?Tok-1"],
  created: ["1800000000"],
  expires: ["1800003600"],
  groups: ["team", "staff"],
  roles: [],
  reset: ["false"],
  note: ["hello"],
  source: ["invites-api/K1"],
  uses: ["2"],
  "max-uses": ["5"],
  state: ["used"],
  closed: ["1800000300"],
  redemptions: ["1800000100 ann@e.test", "1800000200 bob@e.test deleted"],
};
const asFields = (values: Record<string, string[]>) => Object.entries(values).map(([n, v]) => field(n, v));

const completed = (node: string, form?: Element) =>
  xml(
    "iq",
    { type: "result" },
    xml("command", { xmlns: NS_COMMANDS, node, status: "completed" }, ...(form ? [form] : [])),
  );
const commandList = (nodes: string[]) =>
  xml("iq", { type: "result" }, xml("query", { xmlns: NS_ITEMS }, ...nodes.map((node) => xml("item", { node }))));
const stanzaError = (condition: string, text: string) =>
  Object.assign(new Error(condition), { name: "StanzaError", condition, text });

function harness(answer: (command: Element) => Element, nodes: string[] = Object.values(MANAGE_NODES)) {
  const sent: Element[] = [];
  const clock = { now: 0 };
  const ctx = {
    componentJid: "invites.e.test",
    timeoutMs: 1000,
    request: async (stanza: Element) => {
      sent.push(stanza);
      const command = stanza.getChild("command", NS_COMMANDS);
      return command ? answer(command) : commandList(nodes);
    },
  };
  const commands = cachedCommands(ctx, () => clock.now);
  const manager = createInviteManager(ctx, commands);
  return { manager, sent, clock, ctx, commands };
}

describe("mod_invites_manage over XEP-0050", () => {
  it("sends the filled form with execute and reads every field of the invite", async () => {
    const { manager, sent } = harness((command) =>
      completed(command.attrs.node ?? "", xml("x", { xmlns: "jabber:x:data", type: "result" }, ...asFields(INVITE))),
    );
    const invite = await manager.createGroup("e.test", {
      groups: ["team", "staff"],
      ttl: 3600,
      source: "invites-api/K1",
      maxUses: 5,
    });
    assert.deepEqual(invite, {
      id: "Tok-1",
      type: "register",
      reusable: true,
      jid: "e.test",
      uri: "xmpp:e.test?register;preauth=Tok-1",
      landingPage: "https://e.test/invite?Tok-1",
      createdAt: 1800000000,
      expires: 1800003600,
      groups: ["team", "staff"],
      roles: [],
      reset: false,
      note: "hello",
      source: "invites-api/K1",
      uses: 2,
      maxUses: 5,
      state: "used",
      closedAt: 1800000300,
      redemptions: [
        { jid: "ann@e.test", at: 1800000100, deleted: false },
        { jid: "bob@e.test", at: 1800000200, deleted: true },
      ],
    });
    const command = sent.at(-1)?.getChild("command", NS_COMMANDS);
    assert.equal(command?.attrs.node, MANAGE_NODES.createGroup);
    assert.equal(command?.attrs.action, "execute");
    const form = command?.getChild("x", "jabber:x:data");
    assert.equal(form?.attrs.type, "submit");
    const values = (name: string) =>
      form
        ?.getChildren("field")
        .find((f) => f.attrs.var === name)
        ?.getChildren("value")
        .map((v) => v.getText());
    assert.deepEqual(values("groups"), ["team", "staff"]);
    assert.deepEqual(values("ttl"), ["3600"]);
    assert.deepEqual(values("max_uses"), ["5"]);
    assert.equal(values("note"), undefined, "an unset field is not sent");
  });

  it("revoke tells the module who asked (actor) and reads who revoked it; an older module's answer has none", async () => {
    const revokedBy = { ...INVITE, state: ["revoked"], "revoked-by": ["invites-api/K2"] };
    const { manager, sent } = harness((command) =>
      completed(command.attrs.node ?? "", xml("x", { xmlns: "jabber:x:data", type: "result" }, ...asFields(revokedBy))),
    );
    const revoked = await manager.revoke("e.test", "Tok-1", "invites-api/K2");
    assert.equal(revoked?.revokedBy, "invites-api/K2");
    const form = sent.at(-1)?.getChild("command", NS_COMMANDS)?.getChild("x", "jabber:x:data");
    const asked = Object.fromEntries(
      form?.getChildren("field").map((f: Element) => [f.attrs.var, f.getChildText("value")]) ?? [],
    );
    assert.deepEqual(asked, { id: "Tok-1", actor: "invites-api/K2" });
    const older = harness((command) =>
      completed(command.attrs.node ?? "", xml("x", { xmlns: "jabber:x:data", type: "result" }, ...asFields(INVITE))),
    );
    assert.equal((await older.manager.show("e.test", "Tok-1")).revokedBy, undefined);
  });

  it("reads a page from the <item/> rows of a reported table, and its next cursor", async () => {
    const { manager, sent } = harness((command) =>
      completed(
        command.attrs.node ?? "",
        xml(
          "x",
          { xmlns: "jabber:x:data", type: "result" },
          xml("field", { var: "next" }, xml("value", {}, "1768467600.Tok-2")),
          xml("reported", {}, ...Object.keys(INVITE).map((name) => xml("field", { var: name }))),
          xml("item", {}, ...asFields(INVITE)),
          xml("item", {}, ...asFields({ ...INVITE, id: ["Tok-2"], groups: [], reusable: ["false"] })),
        ),
      ),
    );
    const page = await manager.list("e.test", { limit: 2, after: "1768467000.Tok-0" });
    assert.deepEqual(
      page.invites.map((i) => [i.id, i.reusable, i.groups]),
      [
        ["Tok-1", true, ["team", "staff"]],
        ["Tok-2", false, []],
      ],
    );
    assert.equal(page.next, "1768467600.Tok-2");
    const form = sent.at(-1)?.getChild("command", NS_COMMANDS)?.getChild("x", "jabber:x:data");
    const asked = Object.fromEntries(
      form?.getChildren("field").map((f: Element) => [f.attrs.var, f.getChildText("value")]) ?? [],
    );
    assert.deepEqual(asked, { after: "1768467000.Tok-0", max: "2" });
  });

  it("reads the invite options: groups from the table's rows, roles, ttl bounds; a reply without them is 502", async () => {
    const options = (fields: Element[]) =>
      harness((command) =>
        completed(
          command.attrs.node ?? "",
          xml(
            "x",
            { xmlns: "jabber:x:data", type: "result" },
            ...fields,
            xml("reported", {}, xml("field", { var: "id" }), xml("field", { var: "name" })),
            xml("item", {}, ...asFields({ id: ["staff"], name: ["Staff <b>"] })),
            xml("item", {}, ...asFields({ id: ["team"], name: ["Team"] })),
          ),
        ),
      ).manager;
    const ttls = asFields({ "max-ttl": ["2592000"], "default-ttl": ["604800"], "reset-ttl": ["86400"] });
    const manager = options([...ttls, field("roles", ["prosody:guest", "prosody:member"])]);
    assert.deepEqual(await manager.options("e.test"), {
      groups: [
        { id: "staff", name: "Staff <b>" },
        { id: "team", name: "Team" },
      ],
      roles: ["prosody:guest", "prosody:member"],
      maxTtl: 2_592_000,
      defaultTtl: 604_800,
      resetTtl: 86_400,
    });
    // 0.12: no roles field values.
    assert.deepEqual((await options([...ttls, field("roles", [])]).options("e.test")).roles, []);
    await assert.rejects(options([field("roles", [])]).options("e.test"), { code: "prosody_bad_reply" });
    // An older module, without the command: 501 saying what to update.
    const older = harness(
      () => completed("x"),
      Object.values(MANAGE_NODES).filter((node) => node !== MANAGE_NODES.options),
    ).manager;
    await assert.rejects(older.options("e.test"), { code: "not_implemented", message: /update mod_invites_manage/ });
  });

  it("a value XML cannot carry never reaches the stream: 400 naming the field", async () => {
    const { manager, sent } = harness(() => completed("x"));
    const before = sent.length;
    for (const [field, invite] of [
      ["note", { note: "a\uFFFFb" }],
      ["groups", { groups: ["ok", "\uFFFE"] }],
      ["username", { username: "\uD800x" }],
      ["note", { note: "\u0001" }],
    ] as const) {
      await assert.rejects(manager.createAccount("e.test", { ...invite, source: "s" }), (err: AppError) => {
        assert.equal(err.code, "bad_request");
        assert.match(err.message, new RegExp(`^${field}: U\\+[0-9A-F]{4} `));
        return true;
      });
    }
    // Only the disco#items asking whether the module is there went out, no command.
    assert.ok(sent.slice(before).every((s) => !s.getChild("command", NS_COMMANDS)));
  });

  it("the module's not-allowed (an account above invites_manage_roles) is account_protected", async () => {
    const { manager } = harness(() => {
      throw stanzaError("not-allowed", "the account boss is above invites_manage_roles");
    });
    await assert.rejects(manager.createReset("e.test", { username: "boss", source: "s" }), (err: AppError) => {
      assert.equal(err.code, "account_protected");
      return true;
    });
  });

  it("maps the module's refusals: bad input 400, taken name 409, unknown id 404, no roles on 0.12 501", async () => {
    const cases: Array<[string, string, string, (m: ReturnType<typeof createInviteManager>) => Promise<unknown>]> = [
      [
        "bad-request",
        "ttl must be a whole number of seconds from 1 to 2592000",
        "bad_request",
        (m) => m.createAccount("e.test", { ttl: 9e9, source: "s" }),
      ],
      [
        "conflict",
        "user alice already exists",
        "user_exists",
        (m) => m.createAccount("e.test", { username: "alice", source: "s" }),
      ],
      ["item-not-found", "no pending invite with this id", "invite_not_found", (m) => m.revoke("e.test", "nope")],
      [
        "item-not-found",
        "no user bob on e.test",
        "user_not_found",
        (m) => m.createReset("e.test", { username: "bob", source: "s" }),
      ],
      [
        "feature-not-implemented",
        "roles need Prosody 13",
        "not_implemented",
        (m) => m.createAccount("e.test", { roles: ["x"], source: "s" }),
      ],
    ];
    for (const [condition, text, code, call] of cases) {
      const { manager } = harness(() => {
        throw stanzaError(condition, text);
      });
      await assert.rejects(call(manager), (err: unknown) => {
        assert.ok(err instanceof AppError, String(err));
        assert.equal(err.code, code);
        return true;
      });
    }
    const { manager } = harness(() => {
      throw stanzaError("forbidden", "not allowed to manage invites on e.test");
    });
    await assert.rejects(manager.list("e.test", { limit: 50 }), ProsodyRefusedError);
  });

  it("asks once per COMMANDS_TTL_MS whether the host runs the module; 501 when it does not", async () => {
    const { manager, sent, clock } = harness(() => completed("x"), ["urn:xmpp:invite#create-account"]);
    await assert.rejects(manager.list("e.test", { limit: 50 }), (err: AppError) => err.code === "not_implemented");
    await assert.rejects(manager.list("e.test", { limit: 50 }), (err: AppError) => err.code === "not_implemented");
    assert.equal(sent.length, 1);
    clock.now += COMMANDS_TTL_MS;
    await assert.rejects(manager.list("e.test", { limit: 50 }));
    assert.equal(sent.length, 2);
  });

  it("/invites_api's issuer uses the module where it is loaded, and refuses a ttl where it is not", async () => {
    const loaded = harness((command) =>
      completed(command.attrs.node ?? "", xml("x", { xmlns: "jabber:x:data", type: "result" }, ...asFields(INVITE))),
    );
    const issuer = createInviteIssuer(loaded.ctx, pino({ level: "silent" }), loaded.manager);
    assert.deepEqual(await issuer.createAccountInvite("e.test", { ttl: 60, source: "s" }), {
      url: "https://e.test/invite?Tok-1",
      uri: "xmpp:e.test?register;preauth=Tok-1",
      expires: "2027-01-15T09:00:00Z",
    });
    assert.equal(loaded.sent.at(-1)?.getChild("command", NS_COMMANDS)?.attrs.node, MANAGE_NODES.createAccount);

    const bare = harness(() => completed("x"), ["urn:xmpp:invite#create-account"]);
    const plain = createInviteIssuer(bare.ctx, pino({ level: "silent" }), bare.manager);
    await assert.rejects(plain.createAccountInvite("e.test", { ttl: 60, source: "s" }), (err: AppError) =>
      /invites_manage/.test(err.message),
    );
  });
});
