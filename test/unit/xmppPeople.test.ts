import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { xml, type Element } from "@xmpp/component";
import { AppError } from "../../src/errors.js";
import { pino } from "pino";
import { connectComponent } from "../../src/xmpp/connection.js";
import { ProsodyBadReplyError, ProsodyRefusedError, XmppUnavailableError } from "../../src/xmpp/errors.js";
import { closedPort } from "../support/ports.js";
import { MANAGE_NODES } from "../../src/xmpp/inviteManager.js";
import { createMessageSender } from "../../src/xmpp/messages.js";
import { createPersonLookup } from "../../src/xmpp/people.js";

const NS_COMMANDS = "http://jabber.org/protocol/commands";
const HOST = "e.test";

const completed = (values: Record<string, string>) =>
  xml(
    "iq",
    { type: "result" },
    xml(
      "command",
      { xmlns: NS_COMMANDS, node: MANAGE_NODES.person, status: "completed" },
      xml(
        "x",
        { xmlns: "jabber:x:data", type: "result" },
        ...Object.entries(values).map(([name, value]) => xml("field", { var: name }, xml("value", {}, value))),
      ),
    ),
  );

/** A lookup over a fake host offering `nodes`, answering the person command with `answer`. */
function harness(answer: () => Element, nodes: readonly string[] = Object.values(MANAGE_NODES)) {
  const sent: Element[] = [];
  const ctx = {
    componentJid: "invites.e.test",
    timeoutMs: 1000,
    request: async (stanza: Element) => {
      sent.push(stanza);
      return answer();
    },
  };
  const asked = () =>
    sent
      .at(-1)
      ?.getChild("command", NS_COMMANDS)
      ?.getChild("x", "jabber:x:data")
      ?.getChildren("field")
      .map((f) => `${f.attrs.var}=${f.getChildText("value")}`);
  return { lookup: createPersonLookup(ctx, async () => nodes), sent, asked };
}

const code = (expected: string) => (err: unknown) => {
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, expected, err.message);
  return true;
};

describe("PersonLookup over mod_invites_manage's person command", () => {
  it("sends the JID and reads exists, enabled and role", async () => {
    const { lookup, sent, asked } = harness(() =>
      completed({ exists: "true", enabled: "false", role: "prosody:member" }),
    );
    assert.deepEqual(await lookup.person(HOST, `ann@${HOST}`), {
      exists: true,
      enabled: false,
      role: "prosody:member",
    });
    assert.equal(sent.at(-1)?.attrs.to, HOST);
    assert.equal(sent.at(-1)?.getChild("command", NS_COMMANDS)?.attrs.node, MANAGE_NODES.person);
    assert.deepEqual(asked(), [`jid=ann@${HOST}`]);
  });

  it("a missing account: not enabled, no role", async () => {
    const { lookup } = harness(() => completed({ exists: "false", enabled: "false" }));
    assert.deepEqual(await lookup.person(HOST, `nobody@${HOST}`), { exists: false, enabled: false, role: "" });
  });

  it("a JID that is not a bare JID of the host never reaches Prosody", async () => {
    const { lookup, sent } = harness(() => completed({ exists: "true", enabled: "true", role: "x" }));
    for (const jid of [`ann@other.test`, `ann@${HOST}/phone`, HOST, `@${HOST}`, `a@b@${HOST}`, `ann @${HOST}`]) {
      await assert.rejects(lookup.person(HOST, jid), code("bad_request"), jid);
    }
    await assert.rejects(lookup.person(HOST, `a\u0001b@${HOST}`), code("bad_request"));
    assert.equal(sent.length, 0);
  });

  it("the module's refusal of the JID is the caller's; any other refusal stays Prosody's", async () => {
    const refusing = (condition: string) => () => {
      throw Object.assign(new Error(condition), { name: "StanzaError", condition, text: "jid must be …" });
    };
    await assert.rejects(harness(refusing("bad-request")).lookup.person(HOST, `ann@${HOST}`), code("bad_request"));
    await assert.rejects(
      harness(refusing("internal-server-error")).lookup.person(HOST, `ann@${HOST}`),
      (err: unknown) => err instanceof ProsodyRefusedError && err.condition === "internal-server-error",
    );
  });

  it("an answer without exists is a bad reply", async () => {
    await assert.rejects(
      harness(() => completed({ role: "x" })).lookup.person(HOST, `ann@${HOST}`),
      (err: unknown) => err instanceof ProsodyBadReplyError,
    );
  });

  it("an older module without the command: update it; no module: load it", async () => {
    const older = Object.values(MANAGE_NODES).filter((node) => node !== MANAGE_NODES.person);
    await assert.rejects(
      harness(() => completed({}), older).lookup.person(HOST, `ann@${HOST}`),
      (err: unknown) => err instanceof AppError && err.code === "not_implemented" && /update/.test(err.message),
    );
    await assert.rejects(
      harness(() => completed({}), []).lookup.person(HOST, `ann@${HOST}`),
      (err: unknown) => err instanceof AppError && err.code === "not_implemented" && /load/.test(err.message),
    );
  });
});

describe("MessageSender over the component connection", () => {
  const sender = () => {
    const sent: Element[] = [];
    const messages = createMessageSender({
      componentJid: "invites.e.test",
      knownHost: async (host) => host === HOST,
      send: async (stanza) => void sent.push(stanza),
    });
    return { messages, sent };
  };

  it("a chat message from the component to a bare JID of a served host", async () => {
    const { messages, sent } = sender();
    await messages.send(`ann@${HOST}`, "bob@e.test joined with your invite.");
    assert.equal(
      sent[0]?.toString(),
      `<message type="chat" from="invites.e.test" to="ann@${HOST}"><body>bob@e.test joined with your invite.</body></message>`,
    );
  });

  it("refuses another host, a full JID, a bare domain, and a body XML cannot carry", async () => {
    const { messages, sent } = sender();
    for (const to of [`ann@other.test`, `ann@${HOST}/phone`, HOST, `@${HOST}`, `a@b@${HOST}`]) {
      await assert.rejects(messages.send(to, "hello"), code("bad_request"), to);
    }
    await assert.rejects(messages.send(`ann@${HOST}`, "a\u0000b"), code("bad_request"));
    await assert.rejects(messages.send(`ann@${HOST}`, ""), code("bad_request"));
    assert.equal(sent.length, 0);
  });

  it("the connection's send fails at once while offline", async () => {
    const connection = connectComponent({
      service: `xmpp://127.0.0.1:${await closedPort()}`,
      domain: "invites.e.test",
      secret: "unused-secret",
      reconnect: { minMs: 1_000, maxMs: 2_000 },
      log: pino({ level: "silent" }),
    });
    try {
      const messages = createMessageSender({
        send: connection.send,
        componentJid: connection.jid,
        knownHost: async () => true,
      });
      await assert.rejects(
        messages.send(`ann@${HOST}`, "hello"),
        (err: unknown) => err instanceof XmppUnavailableError,
      );
    } finally {
      await connection.stop();
    }
  });
});
