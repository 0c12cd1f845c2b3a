import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { xml, type Element } from "@xmpp/component";
import { pino } from "pino";
import { createInviteIssuer, NODE_CREATE_ACCOUNT } from "../../src/xmpp/inviteIssuer.js";
import { ProsodyBadReplyError, ProsodyRefusedError, XmppTimeoutError } from "../../src/xmpp/errors.js";
import { XmppUnavailableError } from "../../src/xmpp/errors.js";
import { fakeManager } from "../support/fakeManager.js";

const NS = "http://jabber.org/protocol/commands";
const silent = pino({ level: "silent" });
const OPTIONS = { source: "invites-api/test" };

function reply(fields: Record<string, string | undefined>, status = "completed"): Element {
  return xml(
    "iq",
    { type: "result" },
    xml(
      "command",
      { xmlns: NS, node: NODE_CREATE_ACCOUNT, status },
      xml(
        "x",
        { xmlns: "jabber:x:data", type: "result" },
        ...Object.entries(fields).map(([name, value]) =>
          xml("field", { var: name }, ...(value === undefined ? [] : [xml("value", {}, value)])),
        ),
      ),
    ),
  );
}

function issuerAnswering(answer: (stanza: Element) => Promise<Element>) {
  const sent: Element[] = [];
  const ctx = {
    request: (stanza: Element) => {
      sent.push(stanza);
      return answer(stanza);
    },
    componentJid: "invites.example.com",
    timeoutMs: 1000,
  };
  const issuer = createInviteIssuer(ctx, silent, fakeManager({ loaded: false }).manager);
  return { issuer, sent };
}

describe("create-account invites over XEP-0050", () => {
  it("executes the command on the key's host, with `to` set", async () => {
    const { issuer, sent } = issuerAnswering(async () => reply({ uri: "xmpp:x" }));
    await issuer.createAccountInvite("example.com", OPTIONS);
    const [stanza] = sent;
    assert.equal(stanza?.attrs.to, "example.com");
    assert.equal(stanza?.attrs.type, "set");
    const command = stanza?.getChild("command", NS);
    assert.equal(command?.attrs.node, NODE_CREATE_ACCOUNT);
    assert.equal(command?.attrs.action, "execute");
  });

  it("links to the landing page when there is one", async () => {
    const { issuer } = issuerAnswering(async () =>
      reply({ "landing-url": "https://e/p?T", uri: "xmpp:e?register;preauth=T", expire: "2026-12-05T16:19:43Z" }),
    );
    assert.deepEqual(await issuer.createAccountInvite("e", OPTIONS), {
      url: "https://e/p?T",
      uri: "xmpp:e?register;preauth=T",
      expires: "2026-12-05T16:19:43Z",
    });
  });

  it("falls back to the xmpp: URI when landing-url has no value", async () => {
    const { issuer } = issuerAnswering(async () =>
      reply({ "landing-url": undefined, uri: "xmpp:e?register;preauth=T" }),
    );
    assert.equal((await issuer.createAccountInvite("e", OPTIONS)).url, "xmpp:e?register;preauth=T");
  });

  it("turns a stanza error into a refusal naming the fix", async () => {
    const { issuer } = issuerAnswering(async () => {
      throw Object.assign(new Error("forbidden"), { name: "StanzaError", condition: "forbidden" });
    });
    await assert.rejects(issuer.createAccountInvite("e", OPTIONS), (err: unknown) => {
      assert.ok(err instanceof ProsodyRefusedError);
      assert.equal(err.condition, "forbidden");
      assert.match(err.fix, /admins/);
      return true;
    });
  });

  it("names invites_adhoc when the command node is missing", async () => {
    const { issuer } = issuerAnswering(async () => {
      throw Object.assign(new Error("item-not-found"), { name: "StanzaError", condition: "item-not-found" });
    });
    await assert.rejects(issuer.createAccountInvite("e", OPTIONS), (err: ProsodyRefusedError) =>
      /invites_adhoc/.test(err.fix),
    );
  });

  it("turns a timeout into XmppTimeoutError and keeps XmppUnavailableError", async () => {
    const timeout = issuerAnswering(async () => {
      throw Object.assign(new Error("timeout"), { name: "TimeoutError" });
    });
    await assert.rejects(timeout.issuer.createAccountInvite("e", OPTIONS), XmppTimeoutError);
    const offline = issuerAnswering(async () => {
      throw new XmppUnavailableError();
    });
    await assert.rejects(offline.issuer.createAccountInvite("e", OPTIONS), XmppUnavailableError);
  });

  it("rejects a canceled command and a form without links", async () => {
    const canceled = issuerAnswering(async () => reply({}, "canceled"));
    await assert.rejects(canceled.issuer.createAccountInvite("e", OPTIONS), ProsodyRefusedError);
    const empty = issuerAnswering(async () => reply({ expire: "2026-12-05T16:19:43Z" }));
    await assert.rejects(empty.issuer.createAccountInvite("e", OPTIONS), ProsodyBadReplyError);
  });
});
