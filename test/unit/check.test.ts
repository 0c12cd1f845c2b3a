import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { describe, it } from "node:test";
import { xml, type Element } from "@xmpp/component";
import { connectFailure } from "../../src/check/connect.js";
import { checkHost } from "../../src/check/hostChecks.js";
import { exitCodeOf, formatJson, formatText, redact, type Check, type CheckReport } from "../../src/check/report.js";
import { NODE_CREATE_ACCOUNT } from "../../src/xmpp/inviteIssuer.js";
import { MANAGE_NODES } from "../../src/xmpp/inviteManager.js";
import { describeStore, storeSecrets } from "../../src/store/url.js";

const ok = (name: string, detail: string): Check => ({ name, status: "ok", detail });

function report(hostChecks: Check[]): CheckReport {
  return {
    component: { service: "xmpp://127.0.0.1:5347", domain: "invites.e.test", checks: [ok("connection", "connected")] },
    keyStore: {
      kind: "sqlite",
      location: "/var/lib/keys.sqlite",
      checks: [ok("read", "readable"), ok("write", "writable")],
    },
    hostsFrom: "key store",
    hosts: [{ host: "e.test", checks: hostChecks }],
  };
}

describe("check report", () => {
  it("one line per check, a fix after a failure, a hint after a note; exit 1 only on a failure", () => {
    const noted = report([{ name: "mode", status: "note", detail: "admin", fix: "add invites_manage" }]);
    const text = formatText(noted);
    assert.equal(
      text[0],
      "component invites.e.test at xmpp://127.0.0.1:5347; key store sqlite /var/lib/keys.sqlite; hosts (from the key store): e.test",
    );
    assert.deepEqual(text.slice(1), [
      "ok   key store read: readable",
      "ok   key store write: writable",
      "ok   component connection: connected",
      "note e.test mode: admin -> hint: add invites_manage",
      "all well",
    ]);
    assert.equal(exitCodeOf(noted), 0);

    const failed = report([
      { name: "commands", status: "fail", detail: "none", fix: "load invites_manage" },
      { name: "mode", status: "skip", detail: "not run" },
    ]);
    assert.deepEqual(formatText(failed).slice(4), [
      "FAIL e.test commands: none -> fix: load invites_manage",
      "skip e.test mode: not run",
      "1 problem to fix",
    ]);
    assert.equal(exitCodeOf(failed), 1);
  });

  it("JSON: ok overall and per check, the fix only where there is one", () => {
    const json = JSON.parse(formatJson(report([{ name: "version", status: "fail", detail: "x", fix: "y" }])));
    assert.equal(json.ok, false);
    assert.equal(json.hostsFrom, "key store");
    assert.deepEqual(json.hosts[0].checks, [{ name: "version", ok: false, status: "fail", detail: "x", fix: "y" }]);
    assert.deepEqual(json.component.checks[0], { name: "connection", ok: true, status: "ok", detail: "connected" });
    assert.equal(json.keyStore.location, "/var/lib/keys.sqlite");
  });

  it("redact blanks every secret, as written and as JSON escapes it; short values are left alone", () => {
    const secret = 'se"cret\\42';
    assert.equal(redact(`a ${secret} b ${secret}`, [secret]), "a [secret] b [secret]");
    assert.equal(redact(JSON.stringify({ detail: `x ${secret}` }), [secret]), '{"detail":"x [secret]"}');
    assert.equal(redact("a bc abc", ["abc"]), "a bc abc");
  });
});

describe("check: the key store as it may be printed", () => {
  it("masks a URL's password, keeps the rest; a path is made absolute", () => {
    assert.deepEqual(describeStore("postgres://app:s3cr%40t@db.example:5432/keys"), {
      kind: "postgres",
      location: "postgres://app:****@db.example:5432/keys",
    });
    assert.deepEqual(describeStore("redis://:hunter22@cache:6379/0"), {
      kind: "redis",
      location: "redis://:****@cache:6379/0",
    });
    assert.deepEqual(describeStore("rediss://cache:6380"), { kind: "redis", location: "rediss://cache:6380" });
    assert.deepEqual(describeStore("sqlite:///srv/keys.sqlite"), { kind: "sqlite", location: "/srv/keys.sqlite" });
    assert.deepEqual(storeSecrets("postgres://app:s3cr%40t@db/keys"), ["s3cr%40t", "s3cr@t"]);
    assert.deepEqual(storeSecrets("/srv/keys.sqlite"), []);
  });

  it("masks credentials given as query parameters (node-postgres reads ?password= and ?sslpassword=)", () => {
    const store = "postgres://app@db.example:5432/keys?password=p%40ss-one&sslpassword=two%2Bthree&sslmode=require";
    assert.deepEqual(describeStore(store), {
      kind: "postgres",
      location: "postgres://app@db.example:5432/keys?password=****&sslpassword=****&sslmode=require",
    });
    assert.deepEqual(storeSecrets(store), ["p%40ss-one", "p@ss-one", "two%2Bthree", "two+three"]);
  });
});

describe("check: why the component could not connect", () => {
  const opts = { service: "xmpp://127.0.0.1:5347", domain: "invites.e.test", secret: "s3cret-value", timeoutMs: 1000 };
  const failure = (err: Partial<Error & { condition: string; code: string }> | undefined) =>
    connectFailure(err ? Object.assign(new Error("x"), err) : undefined, opts);

  it("names the line to change for each case, never the secret", () => {
    assert.match(failure({ condition: "not-authorized" }).fix, /COMPONENT_SECRET does not match component_secret/);
    assert.match(failure({ condition: "host-unknown" }).fix, /Component "invites\.e\.test" with component_secret/);
    assert.match(failure({ code: "ECONNREFUSED" }).fix, /component_ports and component_interfaces/);
    assert.match(failure({ code: "ENOTFOUND" }).message, /cannot reach xmpp:\/\/127\.0\.0\.1:5347 \(ENOTFOUND\)/);
    assert.match(failure({ condition: "conflict" }).message, /another process is connected/);
    assert.match(failure(undefined).message, /within 1000 ms/);
    for (const err of [{ condition: "not-authorized" }, { condition: "host-unknown" }, { code: "ECONNREFUSED" }]) {
      const { message, fix } = failure(err);
      assert.ok(!`${message} ${fix}`.includes(opts.secret));
    }
  });
});

const NS_COMMANDS = "http://jabber.org/protocol/commands";
const NS_ITEMS = "http://jabber.org/protocol/disco#items";

/**
 * A host as the component sees it: its version, its command list, and mod_invites_manage's options
 * (`notLoaded` null: an older module, without the modules-not-loaded field).
 */
function fakeHost(nodes: string[], invitePage?: string, notLoaded: string[] | null = []) {
  return {
    componentJid: "invites.e.test",
    timeoutMs: 1000,
    request: async (stanza: Element): Promise<Element> => {
      if (stanza.getChild("query", "jabber:iq:version")) {
        const query = xml(
          "query",
          { xmlns: "jabber:iq:version" },
          xml("name", {}, "Prosody"),
          xml("version", {}, "13.0.2"),
        );
        return xml("iq", { type: "result" }, query);
      }
      const command = stanza.getChild("command", NS_COMMANDS);
      if (!command) {
        return xml(
          "iq",
          { type: "result" },
          xml("query", { xmlns: NS_ITEMS }, ...nodes.map((node) => xml("item", { node }))),
        );
      }
      const field = (name: string, value: string) => xml("field", { var: name }, xml("value", {}, value));
      const form = xml(
        "x",
        { xmlns: "jabber:x:data", type: "result" },
        field("max-ttl", "2592000"),
        field("default-ttl", "604800"),
        field("reset-ttl", "86400"),
        ...(invitePage ? [field("invite-page", invitePage)] : []),
        ...(notLoaded
          ? [xml("field", { var: "modules-not-loaded" }, ...notLoaded.map((name) => xml("value", {}, name)))]
          : []),
      );
      return xml(
        "iq",
        { type: "result" },
        xml("command", { xmlns: NS_COMMANDS, node: command.attrs.node, status: "completed" }, form),
      );
    },
  };
}

const statuses = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.name, c.status]));

describe("check: a host's mode", () => {
  it("mod_invites_manage, and the component in admins too: a note to drop it from admins", async () => {
    const checks = await checkHost(fakeHost([...Object.values(MANAGE_NODES), NODE_CREATE_ACCOUNT]), "e.test");
    const mode = checks.find((c) => c.name === "mode");
    assert.equal(mode?.status, "note");
    assert.match(mode?.fix ?? "", /remove "invites\.e\.test" from admins/);
    assert.equal(checks.find((c) => c.name === "version")?.detail, "Prosody 13.0.2");
  });

  it("no invite page from the module: a note that invites are xmpp: URIs only", async () => {
    const checks = await checkHost(fakeHost(Object.values(MANAGE_NODES)), "e.test");
    assert.deepEqual(statuses(checks), {
      version: "ok",
      commands: "ok",
      mode: "ok",
      invites_manage: "ok",
      modules: "ok",
      "invite page": "note",
    });
    assert.match(checks.at(-1)?.fix ?? "", /"invites_page" to modules_enabled under VirtualHost "e\.test"/);
  });

  it("the page the module names is opened: HTML under 500 is well, a 502 is not", async () => {
    let status = 404;
    const server: Server = createServer((_, res) =>
      res.writeHead(status, { "Content-Type": "text/html" }).end("<p>no</p>"),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as { port: number };
      const page = `http://127.0.0.1:${port}/invites_page?invites-api-check`;
      const pageCheck = async () => (await checkHost(fakeHost(Object.values(MANAGE_NODES), page), "e.test")).at(-1);
      assert.equal((await pageCheck())?.status, "ok");
      status = 502;
      const failed = await pageCheck();
      assert.equal(failed?.status, "fail");
      assert.match(failed?.detail ?? "", /HTTP 502/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("check: the modules Prosody failed to load", () => {
  const modulesCheck = async (notLoaded: string[] | null) =>
    (await checkHost(fakeHost(Object.values(MANAGE_NODES), undefined, notLoaded), "e.test")).find(
      (c) => c.name === "modules",
    );

  it("none: ok", async () => {
    assert.equal((await modulesCheck([]))?.status, "ok");
  });

  it("each one named, with the line to change, and what invites_register_web needs on Debian 12", async () => {
    const failed = await modulesCheck(["invites_register_web", "muc_offline"]);
    assert.equal(failed?.status, "fail");
    assert.match(failed?.detail ?? "", /^not loaded: invites_register_web, muc_offline \(/);
    assert.match(
      failed?.fix ?? "",
      /^under VirtualHost "e\.test" in prosody\.cfg\.lua .*remove "invites_register_web", "muc_offline" from modules_enabled/,
    );
    assert.match(failed?.fix ?? "", /Prosody's log/);
    assert.match(failed?.fix ?? "", /invites_register_web needs mod_password_policy.*bookworm-backports/);
    assert.equal(exitCodeOf(report([failed as Check])), 1);
  });

  it("an older mod_invites_manage, which does not say: not checked, a note to update it, no failure", async () => {
    const old = await modulesCheck(null);
    assert.equal(old?.status, "note");
    assert.match(old?.detail ?? "", /^not checked/);
    assert.match(old?.fix ?? "", /update mod_invites_manage/);
  });

  it("admin mode: not checked (only mod_invites_manage says)", async () => {
    const checks = await checkHost(fakeHost([NODE_CREATE_ACCOUNT]), "e.test");
    assert.equal(checks.find((c) => c.name === "modules")?.status, "note");
  });
});
