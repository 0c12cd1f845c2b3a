import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { closedPort } from "../support/ports.js";
import { runCli } from "../support/service.js";

const env = () => ({ KEY_STORE: join(mkdtempSync(join(tmpdir(), "invites-api-cli-")), "keys.sqlite") });

describe("the invites-api command", () => {
  it("create prints ID/SECRET alone on the last line; list prints ID<TAB>NAME", async () => {
    const e = env();
    const created = await runCli(["create", "example.com", "Signup page"], e);
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trimEnd().split("\n").at(-1) ?? "";
    assert.match(key, /^[A-Za-z0-9_-]{8}\/[A-Za-z0-9_-]{32}$/);
    await runCli(["create", "other.example"], e);
    const listed = await runCli(["list", "example.com"], e);
    assert.equal(listed.stdout, `${key.split("/")[0]}\tSignup page\n`);
  });

  it("a store made by the CLI under the usual umask is readable by its owner only: folders 0700, files 0600", async () => {
    const root = mkdtempSync(join(tmpdir(), "invites-api-cli-"));
    const folder = join(root, "state", "data");
    const before = process.umask(0o022);
    try {
      const created = await runCli(["create", "example.com"], { KEY_STORE: join(folder, "keys.sqlite") });
      assert.equal(created.code, 0, created.stderr);
      const webhook = await runCli(["webhook", "add", "example.com", "https://127.0.0.1/in", "--allow-private"], {
        KEY_STORE: join(folder, "keys.sqlite"),
      });
      assert.equal(webhook.code, 0, webhook.stderr);
    } finally {
      process.umask(before);
    }
    const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
    assert.equal(mode(join(root, "state")), "700");
    assert.equal(mode(folder), "700");
    const files = readdirSync(folder);
    assert.ok(files.includes("keys.sqlite"), files.join(" "));
    for (const file of files) assert.equal(mode(join(folder, file)), "600", file);
  });

  it("a command that writes says which store it wrote, and when that store is a new file", async () => {
    const e = env();
    const first = await runCli(["create", "example.com"], e);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(
      first.stderr,
      `key store: sqlite ${e.KEY_STORE} (a new file: the service must read this same KEY_STORE, e.g. through --config FILE)\n`,
    );
    assert.match(first.stdout.trimEnd().split("\n").at(-1) ?? "", /^[A-Za-z0-9_-]{8}\/[A-Za-z0-9_-]{32}$/);
    const second = await runCli(["create", "example.com"], e);
    assert.equal(second.stderr, `key store: sqlite ${e.KEY_STORE}\n`);
    // Reading says nothing: its output is the answer.
    const listed = await runCli(["list", "example.com"], e);
    assert.equal(listed.stderr, "");
  });

  it("a store that never answers: each command gives up after 10 s with one line naming the store", async () => {
    // Nothing listens there: the Redis client would retry for good.
    const store = `redis://user:never-printed-password@127.0.0.1:${await closedPort()}/0`;
    // At once: each waits out its own deadline (the key and the webhook commands, reading and writing).
    const commands = [
      ["list", "example.com"],
      ["create", "example.com"],
      ["webhook", "list", "example.com"],
    ];
    await Promise.all(
      commands.map(async (args) => {
        const started = Date.now();
        const result = await runCli(args, { KEY_STORE: store });
        const seconds = (Date.now() - started) / 1_000;
        assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
        assert.ok(seconds >= 9.5 && seconds < 15, `${args.join(" ")} took ${seconds} s`);
        assert.equal(result.stdout, "");
        assert.match(
          result.stderr,
          /^error: the key store \(redis redis:\/\/user:\*\*\*\*@127\.0\.0\.1:\d+\/0\) did not answer within 10 s\n$/,
        );
      }),
    );
  });

  it("delete of an unknown id is a clear error with exit status 1", async () => {
    const result = await runCli(["delete", "example.com", "ZZZZZZZZ"], env());
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no key ZZZZZZZZ for host example\.com/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
  });

  it("delete refuses a key of another host", async () => {
    const e = env();
    const key = (await runCli(["create", "example.com"], e)).stdout.trim();
    // "--": a random id may start with "-", which would otherwise read as an option (1 run in 64).
    const result = await runCli(["delete", "other.example", "--", key.split("/")[0] ?? ""], e);
    assert.equal(result.code, 1);
    assert.match((await runCli(["list", "example.com"], e)).stdout, new RegExp(key.split("/")[0] ?? ""));
  });

  for (const args of [
    [],
    ["frobnicate"],
    ["create"],
    ["delete", "example.com"],
    ["create", "not a host"],
    ["create", "example.com", "--methods", "PUT"],
  ]) {
    it(`prints usage and exits 2 for: ${args.join(" ") || "(no arguments)"}`, async () => {
      const result = await runCli(args, env());
      assert.equal(result.code, 2);
      assert.match(result.stderr, /Usage: invites-api/);
      if (args.length > 0) {
        // What was wrong, the command's usage line and where its help is: not the whole help.
        const lines = result.stderr.trimEnd().split("\n");
        assert.equal(lines.length, 3, result.stderr);
        assert.match(lines[0] ?? "", /^error: /);
        assert.match(lines[2] ?? "", /^Run 'invites-api( [a-z]+)* --help' for the details\.$/);
      }
    });
  }

  it("serve with a bad configuration names the variable and exits 1", async () => {
    const result = await runCli(["serve"], { ...env(), COMPONENT_SERVICE: "localhost:5347" });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /COMPONENT_SERVICE/);
    assert.match(result.stderr, /COMPONENT_DOMAIN is required/);
  });

  it("a key store that cannot be opened is a clear error, exit 1", async () => {
    // A path below a regular file: its folder can never be created.
    const notAFolder = join(mkdtempSync(join(tmpdir(), "invites-api-cli-")), "file");
    writeFileSync(notAFolder, "");
    const result = await runCli(["list", "example.com"], { KEY_STORE: join(notAFolder, "keys.sqlite") });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: /);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });
});
