import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { xml } from "@xmpp/component";
import { connectOnce } from "../../src/check/connect.js";
import { closedPort } from "../support/ports.js";
import { INVITE_MODULES, MANAGE_MODULES, createProsody, type RunningProsody } from "../support/prosody.js";
import { runCli, type CliResult } from "../support/service.js";
import { createKey, freshKeyStore, serviceEnv, startServiceWithoutXmpp } from "../support/stack.js";

// `invites-api check` against a real Prosody with one host of each kind: least privilege (with the
// invite page), admin mode, neither, one with a module Prosody cannot load; and ghost.test, which it
// does not serve. Then the Prosody snippets of docs/prosody.md, as pasted.
const GOOD = "example.test";
const ADMIN = "admin.test";
const NOADMIN = "noadmin.test";
const GHOST = "ghost.test";
const NOJIDS = "nojids.test";
// invites_register_web needs mod_password_policy, which Debian 12's prosody-modules lacks (and 13's
// test plugin folder lacks the module itself): Prosody logs a traceback and goes on without it.
const BROKEN = "broken.test";
const COMPONENT = { domain: "invites.example.test", secret: "check-component-secret-5b1e" };
const TIMEOUT = ["--timeout", "5s"];

type Status = "ok" | "note" | "fail" | "skip";
const LABEL: Record<string, Status> = { "ok  ": "ok", note: "note", FAIL: "fail", skip: "skip" };

/** The check lines of an output, as { status, subject, name, text }. */
function checks(stdout: string) {
  return stdout.split("\n").flatMap((line) => {
    const match = /^(ok {2}|note|FAIL|skip) (\S+(?: store)?) ([^:]+): (.*)$/.exec(line);
    return match ? [{ status: LABEL[match[1] ?? ""], subject: match[2], name: match[3], text: match[4] ?? "" }] : [];
  });
}

function check(result: CliResult, subject: string, name: string) {
  const found = checks(result.stdout).find((c) => c.subject === subject && c.name === name);
  assert.ok(found, `no ${subject} ${name} line in:\n${result.stdout}${result.stderr}`);
  return found;
}

describe("invites-api check", () => {
  let prosody: RunningProsody;
  let env: Record<string, string>;

  before(async () => {
    prosody = await createProsody({
      hosts: [GOOD, ADMIN, NOADMIN, NOJIDS, BROKEN],
      components: [COMPONENT],
      admins: [],
      // The page's address names 127.0.0.1 (the test hosts are in no DNS): Prosody serves it as GOOD's.
      extra: `http_default_host = "${GOOD}"`,
      hostOptions: {
        [GOOD]: { modules: [...MANAGE_MODULES, "version"], lines: [`invites_manage_jids = { "${COMPONENT.domain}" }`] },
        [ADMIN]: { modules: INVITE_MODULES, admins: [COMPONENT.domain] },
        [NOJIDS]: { modules: MANAGE_MODULES },
        [BROKEN]: {
          modules: [...MANAGE_MODULES, "invites_register_web"],
          lines: [`invites_manage_jids = { "${COMPONENT.domain}" }`],
        },
      },
    });
    try {
      let config = readFileSync(prosody.configPath, "utf8");
      for (const host of [GOOD, BROKEN]) {
        config = config.replace(`http://${host}:${prosody.httpPort}/`, `http://127.0.0.1:${prosody.httpPort}/`);
      }
      writeFileSync(prosody.configPath, config);
      await prosody.start();
    } catch (err) {
      await prosody.dispose();
      throw err;
    }
    env = serviceEnv(prosody, COMPONENT, freshKeyStore());
  });

  after(async () => {
    await prosody?.dispose();
  });

  it("all well with least privilege: exit 0, hosts from the key store, each check ok", async () => {
    await createKey(env.KEY_STORE ?? "", GOOD);
    const result = await runCli(["check", ...TIMEOUT], env);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /hosts \(from the key store\): example\.test$/m);
    assert.match(check(result, "component", "connection").text, /connected as invites\.example\.test/);
    assert.match(check(result, GOOD, "version").text, /^Prosody \d+/);
    assert.match(check(result, GOOD, "mode").text, /^least privilege/);
    assert.match(check(result, GOOD, "commands").text, /mod_invites_manage: .*create-account/);
    assert.match(
      check(result, GOOD, "invite page").text,
      /^answers at http:\/\/127\.0\.0\.1:\d+\/invites_page\?\S+ \(HTTP 200\)/,
    );
    assert.match(check(result, GOOD, "modules").text, /^every module of modules_enabled is loaded/);
    assert.match(check(result, "key store", "read").text, /^readable, 1 host has keys/);
    assert.match(check(result, "key store", "write").text, /^writable/);
    for (const c of checks(result.stdout)) assert.equal(c.status, "ok", `${c.subject} ${c.name}: ${c.text}`);
    assert.match(result.stdout, /^all well$/m);
  });

  it("admin mode is well, with a note that recommends least privilege and its lines", async () => {
    const result = await runCli(["check", ADMIN, ...TIMEOUT], env);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /hosts \(from the command line\): admin\.test$/m);
    const mode = check(result, ADMIN, "mode");
    assert.equal(mode.status, "note");
    assert.match(
      mode.text,
      /^admin: .* -> hint: least privilege .*"invites_manage".*invites_manage_jids = \{ "invites\.example\.test" \}/,
    );
    assert.equal(check(result, ADMIN, "version").status, "note", "no mod_version: unknown, not a failure");
    assert.match(check(result, ADMIN, "version").text, /unknown \(mod_version not loaded\)/);
    assert.match(check(result, ADMIN, "invite page").text, /^not checked/);
  });

  it("a host neither least privilege nor admin: exit 1 with the lines to add", async () => {
    const result = await runCli(["check", NOADMIN, ...TIMEOUT], env);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const commands = check(result, NOADMIN, "commands");
    assert.equal(commands.status, "fail");
    assert.match(commands.text, /-> fix: .*invites_manage_jids.*"invites_manage" under VirtualHost "noadmin\.test"/);
  });

  it("mod_invites_manage without the component in invites_manage_jids: exit 1 with that line", async () => {
    const result = await runCli(["check", NOJIDS, ...TIMEOUT], env);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const manage = check(result, NOJIDS, "invites_manage");
    assert.equal(manage.status, "fail");
    assert.match(
      manage.text,
      /refuses invites\.example\.test \(forbidden\) -> fix: .*invites_manage_jids = \{ "invites\.example\.test" \}/,
    );
  });

  it("a module of modules_enabled that Prosody could not load: exit 1, naming it and the line to change", async () => {
    // Prosody's own word that it did not load (0.12: its dependency failed; 13's test folder lacks it).
    assert.match(prosody.log(), /(Error initializing|Unable to load) module 'invites_register_web'/);
    const result = await runCli(["check", BROKEN, ...TIMEOUT], env);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const modules = check(result, BROKEN, "modules");
    assert.equal(modules.status, "fail");
    assert.match(modules.text, /^not loaded: invites_register_web \(/);
    assert.match(
      modules.text,
      / -> fix: under VirtualHost "broken\.test" .*remove "invites_register_web" from modules_enabled.*Prosody's log/,
    );
    assert.match(modules.text, /invites_register_web needs mod_password_policy.*bookworm-backports/);
    assert.equal(check(result, BROKEN, "invites_manage").status, "ok");
    assert.match(result.stdout, /^1 problem to fix$/m);

    const json = await runCli(["check", BROKEN, ...TIMEOUT, "--json"], env);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout) as {
      hosts: Array<{ checks: Array<{ name: string; ok: boolean; status: Status; detail: string; fix?: string }> }>;
    };
    const fromJson = report.hosts[0]?.checks.find((c) => c.name === "modules");
    assert.equal(fromJson?.ok, false);
    assert.match(fromJson?.detail ?? "", /invites_register_web/);
    assert.match(fromJson?.fix ?? "", /remove "invites_register_web" from modules_enabled/);
    for (const out of [result.stdout, json.stdout]) assert.ok(!out.includes(COMPONENT.secret), "a secret was printed");
  });

  it("a host Prosody does not serve: exit 1, not a VirtualHost", async () => {
    const result = await runCli(["check", GHOST, ...TIMEOUT], env);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const version = check(result, GHOST, "version");
    assert.equal(version.status, "fail");
    assert.match(version.text, /not a VirtualHost/);
    assert.equal(check(result, GHOST, "mode").status, "skip");
  });

  it("a wrong secret: exit 1, the secret advice, and no secret printed", async () => {
    const wrong = "wrong-secret-never-printed-9c2";
    const result = await runCli(["check", ...TIMEOUT], { ...env, COMPONENT_SECRET: wrong });
    assert.equal(result.code, 1);
    const connection = check(result, "component", "connection");
    assert.equal(connection.status, "fail");
    assert.match(connection.text, /not-authorized.* -> fix: COMPONENT_SECRET does not match component_secret/);
    assert.equal(check(result, GOOD, "version").status, "skip");
    for (const secret of [wrong, COMPONENT.secret]) {
      assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), "a secret was printed");
    }
  });

  it("a component Prosody does not declare: exit 1 with the Component line", async () => {
    const result = await runCli(["check", GOOD, ...TIMEOUT], { ...env, COMPONENT_DOMAIN: "other.example.test" });
    assert.equal(result.code, 1);
    assert.match(
      check(result, "component", "connection").text,
      /-> fix: .*Component "other\.example\.test" with component_secret/,
    );
    assert.ok(!result.stdout.includes(COMPONENT.secret));
  });

  it("nothing listening at COMPONENT_SERVICE: exit 1 with the reach advice", async () => {
    const service = `xmpp://127.0.0.1:${await closedPort()}`;
    const result = await runCli(["check", GOOD, ...TIMEOUT], { ...env, COMPONENT_SERVICE: service });
    assert.equal(result.code, 1);
    assert.match(
      check(result, "component", "connection").text,
      /ECONNREFUSED.* -> fix: .*component_ports and component_interfaces/,
    );
  });

  it("beside a running service: exit 1, the service keeps its connection", async () => {
    const holder = await connectOnce({
      service: env.COMPONENT_SERVICE ?? "",
      domain: COMPONENT.domain,
      secret: COMPONENT.secret,
      timeoutMs: 5_000,
    });
    try {
      const result = await runCli(["check", GOOD, ...TIMEOUT], env);
      assert.equal(result.code, 1);
      const connection = check(result, "component", "connection");
      assert.match(connection.text, /secret is accepted, but another process is connected .* -> fix: stop the running/);
      const version = xml("iq", { type: "get", to: GOOD }, xml("query", { xmlns: "jabber:iq:version" }));
      assert.equal((await holder.request(version, 5_000)).attrs.type, "result", "the first connection still works");
    } finally {
      await holder.close();
    }
  });

  it("a key store that cannot be opened: exit 1, the host checks still run", async () => {
    // Under a regular file: no folder can be made there, not even by root.
    const file = join(mkdtempSync(join(tmpdir(), "invites-api-check-")), "a-file");
    writeFileSync(file, "");
    const result = await runCli(["check", GOOD, ...TIMEOUT], { ...env, KEY_STORE: join(file, "keys.sqlite") });
    assert.equal(result.code, 1);
    assert.equal(check(result, "key store", "open").status, "fail");
    assert.match(check(result, "key store", "open").text, /cannot create the folder/);
    assert.equal(check(result, GOOD, "mode").status, "ok");
  });

  it("a Redis store that does not answer: exit 1, its password masked", async () => {
    const password = "redis-password-never-printed";
    const store = `redis://user:${password}@127.0.0.1:${await closedPort()}/0`;
    const result = await runCli(["check", GOOD, "--timeout", "2s"], { ...env, KEY_STORE: store });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.equal(check(result, "key store", "open").status, "fail");
    assert.match(result.stdout, /key store redis redis:\/\/user:\*\*\*\*@127\.0\.0\.1:\d+\/0/);
    assert.ok(!result.stdout.includes(password) && !result.stderr.includes(password), "the password was printed");
  });

  it("a PostgreSQL store with its passwords as query parameters: exit 1, neither printed, in text or --json", async () => {
    const password = "pg-password-never-printed";
    const sslpassword = "pg-sslpassword+never/printed=";
    const store =
      `postgres://app@127.0.0.1:${await closedPort()}/keys` +
      `?password=${password}&sslpassword=${encodeURIComponent(sslpassword)}&sslmode=disable`;
    for (const extra of [[], ["--json"]]) {
      const result = await runCli(["check", GOOD, "--timeout", "2s", ...extra], { ...env, KEY_STORE: store });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const out = result.stdout + result.stderr;
      assert.match(out, /password=\*\*\*\*&sslpassword=\*\*\*\*&sslmode=disable/);
      for (const secret of [password, sslpassword, encodeURIComponent(sslpassword)]) {
        assert.ok(!out.includes(secret), `${extra.join(" ") || "text"}: a password was printed`);
      }
    }
  });

  it("--json parses and gives the verdicts of the text", async () => {
    const args = ["check", GOOD, ADMIN, NOADMIN, GHOST, ...TIMEOUT];
    // One after the other: Prosody takes one connection per component.
    const text = await runCli(args, env);
    const json = await runCli([...args, "--json"], env);
    assert.equal(json.code, 1);
    assert.equal(text.code, 1);
    const report = JSON.parse(json.stdout) as {
      ok: boolean;
      hostsFrom: string;
      component: { checks: Array<{ name: string; ok: boolean; status: Status }> };
      keyStore: { kind: string; checks: Array<{ name: string; ok: boolean; status: Status }> };
      hosts: Array<{ host: string; checks: Array<{ name: string; ok: boolean; status: Status; fix?: string }> }>;
    };
    assert.equal(report.ok, false);
    assert.equal(report.hostsFrom, "command line");
    assert.equal(report.keyStore.kind, "sqlite");
    const fromJson = [
      ...report.keyStore.checks.map((c) => `key store ${c.name} ${c.status}`),
      ...report.component.checks.map((c) => `component ${c.name} ${c.status}`),
      ...report.hosts.flatMap((h) => h.checks.map((c) => `${h.host} ${c.name} ${c.status}`)),
    ];
    assert.deepEqual(
      fromJson,
      checks(text.stdout).map((c) => `${c.subject} ${c.name} ${c.status}`),
    );
    const noadmin = report.hosts.find((h) => h.host === NOADMIN)?.checks.find((c) => c.name === "commands");
    assert.equal(noadmin?.ok, false);
    assert.match(noadmin?.fix ?? "", /invites_manage_jids/);
    assert.ok(!json.stdout.includes(COMPONENT.secret));
  });
});

/** The first Lua block after `heading` in docs/prosody.md, as an operator would paste it. */
function docSnippet(heading: string): string {
  const page = readFileSync(new URL("../../docs/prosody.md", import.meta.url), "utf8");
  const at = page.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `no "${heading}" in docs/prosody.md`);
  const block = /```lua\n([\s\S]*?)```/.exec(page.slice(at));
  assert.ok(block?.[1], `no Lua block after "${heading}" in docs/prosody.md`);
  return block[1];
}

// A module Prosody could not load, in its own words.
const LOAD_FAILURE = /(Error initializing|Unable to load) module '[^']+'.*$/m;

describe("the Prosody snippets of docs/prosody.md, as pasted", () => {
  const HOST = "snippet.test";
  const SNIPPET_COMPONENT = { domain: `invites.${HOST}`, secret: "docs-snippet-secret-7d3a" };

  /**
   * A test Prosody whose config is the harness's (ports, storage, log) with the snippet after it: only
   * the names (example.com), the secret and the folder the module was copied to are the test's.
   * Prosody's own invite page is served at 127.0.0.1 (the test hosts are in no DNS), and so is the
   * service's, where the snippet's invites_page points: a service of its own, with no XMPP, since
   * `check` connects as the component.
   */
  async function withSnippet(heading: string, run: (env: Record<string, string>) => Promise<void>) {
    const invitePage = await startServiceWithoutXmpp({ KEY_STORE: freshKeyStore() });
    try {
      await withSnippetAndPage(heading, invitePage.url, run);
    } finally {
      await invitePage.stop();
    }
  }

  async function withSnippetAndPage(
    heading: string,
    invitePage: string,
    run: (env: Record<string, string>) => Promise<void>,
  ) {
    const snippet = docSnippet(heading)
      .replaceAll("https://invites.example.com/", `${invitePage}/`)
      .replaceAll("example.com", HOST)
      .replaceAll("a long random secret", SNIPPET_COMPONENT.secret);
    const prosody = await createProsody({
      hosts: [],
      components: [SNIPPET_COMPONENT],
      admins: [],
      extra: `http_default_host = "${HOST}"\nhttp_external_url = "HTTP_EXTERNAL_URL"\n${snippet}`,
    });
    try {
      const config = readFileSync(prosody.configPath, "utf8");
      const paths = /^plugin_paths = (\{.*\})$/m.exec(config)?.[1] ?? "";
      writeFileSync(
        prosody.configPath,
        config
          .replace("HTTP_EXTERNAL_URL", `http://127.0.0.1:${prosody.httpPort}/`)
          .replace(
            /^plugin_paths = \{ "\/usr\/local\/lib\/prosody\/invites-api-modules" \}/m,
            `plugin_paths = ${paths}`,
          ),
      );
      await prosody.start();
      await run(serviceEnv(prosody, SNIPPET_COMPONENT, freshKeyStore()));
      assert.doesNotMatch(prosody.log(), LOAD_FAILURE, "a module failed to load");
    } finally {
      await prosody.dispose();
    }
  }

  it("least privilege: every module loads, and check says all well", async () => {
    await withSnippet("## Least privilege, with mod_invites_manage", async (env) => {
      const result = await runCli(["check", HOST, ...TIMEOUT], env);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(check(result, HOST, "mode").status, "ok");
      assert.equal(check(result, HOST, "modules").status, "ok");
      // The snippet's invites_page: the service's invite page answers the made-up invite.
      assert.match(
        check(result, HOST, "invite page").text,
        new RegExp(`^answers at http://127\\.0\\.0\\.1:\\d+/invite/${HOST}/`),
      );
      assert.match(result.stdout, /^all well$/m);
    });
  });

  it("drop-in: every module loads, and check says all well (admin mode, with its notes)", async () => {
    await withSnippet("## Drop-in, with the component in admins", async (env) => {
      const result = await runCli(["check", HOST, ...TIMEOUT], env);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(check(result, HOST, "mode").text, /^admin:/);
      assert.match(result.stdout, /^all well$/m);
    });
  });
});
