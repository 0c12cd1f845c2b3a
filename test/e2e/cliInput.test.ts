import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { hashSecret } from "../../src/keys/apiKey.js";
import { createKeyStore } from "../../src/keys/keyStore.js";
import { openStore } from "../../src/store/open.js";
import { recordConfigSecrets } from "../support/handedOut.js";
import { CLI, runCli, type CliResult } from "../support/service.js";
import { freshKeyStore } from "../support/stack.js";

const HOST = "example.test";

/** The CLI run in a folder of its own, to see what it leaves there. */
function runIn(cwd: string, args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  recordConfigSecrets(env);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: { PATH: process.env.PATH, ...env }, timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe("bad configuration and input on the command line", () => {
  it("refuses a KEY_STORE with an unknown scheme, creates nothing and never prints the password", async () => {
    for (const args of [["list", HOST], ["create", HOST, "k"], ["serve"]]) {
      const cwd = mkdtempSync(join(tmpdir(), "invites-api-cwd-"));
      const env = {
        KEY_STORE: "postgress://u:pw-do-not-print@db:5432/keys",
        COMPONENT_SERVICE: "xmpp://127.0.0.1:1",
        COMPONENT_DOMAIN: "invites.example.test",
        COMPONENT_SECRET: "s",
      };
      const result = await runIn(cwd, args, env);
      assert.equal(result.code, 1, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, /KEY_STORE has an unknown scheme/);
      assert.doesNotMatch(result.stderr + result.stdout, /pw-do-not-print/);
      assert.deepEqual(readdirSync(cwd), [], `${args[0]} created files`);
    }
  });

  it("takes sqlite://, a plain path, and the scheme in any case", async () => {
    const dir = mkdtempSync(join(tmpdir(), "invites-api-cwd-"));
    for (const keyStore of [`SQLite://${join(dir, "a.sqlite")}`, join(dir, "b.sqlite")]) {
      const result = await runCli(["list", HOST], { KEY_STORE: keyStore });
      assert.equal(result.code, 0, result.stderr);
    }
    assert.ok(readdirSync(dir).includes("a.sqlite") && readdirSync(dir).includes("b.sqlite"));
  });

  it("gives a usage error (exit 2) for any out-of-range option, and writes no key", async () => {
    const keyStore = freshKeyStore();
    const cases = [
      ["--expires", "999999999d"],
      ["--expires", "101y"],
      ["--rate", "5/999999999d"],
      ["--rate", "99999999999/1m"],
      ["--max-invites", "99999999999999999999"],
      ["--max-invites", "0"],
      ["--scope", "admin"],
      ["--scope", "MANAGE "],
      ["--max-ttl", "0s"],
      ["--max-ttl", "500ms"],
      ["--max-ttl", "101y"],
    ];
    for (const option of cases) {
      const result = await runCli(["create", HOST, "k", ...option], { KEY_STORE: keyStore });
      assert.equal(result.code, 2, `${option.join(" ")}: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, /Invalid time value|RangeError|at .*\.js/);
    }
    // The edges that are in range work.
    const ok = await runCli(["create", HOST, "k", "--expires", "100y", "--max-invites", "1000000000"], {
      KEY_STORE: keyStore,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await runCli(["list", HOST], { KEY_STORE: keyStore })).stdout.trim().split("\n").length, 1);
  });

  it("--scope (a list) and --max-ttl are stored and shown; a key without them has scope create", async () => {
    const keyStore = freshKeyStore();
    const env = { KEY_STORE: keyStore };
    const manage = await runCli(["create", HOST, "m", "--scope", "manage,reset,manage", "--max-ttl", "1h"], env);
    assert.equal(manage.code, 0, manage.stderr);
    assert.equal((await runCli(["create", HOST, "plain"], env)).code, 0);
    const listed = JSON.parse((await runCli(["list", HOST, "--json"], env)).stdout) as Array<Record<string, unknown>>;
    const byName = new Map(listed.map((info) => [info.name, info]));
    assert.deepEqual(byName.get("m")?.scopes, ["manage", "reset"]);
    assert.equal(byName.get("m")?.maxTtlSeconds, 3600);
    assert.deepEqual(byName.get("plain")?.scopes, ["create"]);
    const shown = await runCli(["show", HOST, "--", String(byName.get("m")?.id)], env);
    assert.match(shown.stdout, /^scopes: +manage,reset$/m);
    assert.match(shown.stdout, /^max ttl: +3600s$/m);
    const plain = await runCli(["show", HOST, "--", String(byName.get("plain")?.id)], env);
    assert.match(plain.stdout, /^scopes: +create$/m);
  });

  it("refuses a key name with a control character, so list stays one ID<TAB>NAME line per key", async () => {
    const keyStore = freshKeyStore();
    for (const name of ["tab\there", "new\nline", "carriage\rreturn", "escape\u001b[31m", "separator\u2028x"]) {
      const result = await runCli(["create", HOST, name], { KEY_STORE: keyStore });
      assert.equal(result.code, 2, JSON.stringify(name));
      assert.match(result.stderr, /control characters/);
    }
    assert.equal((await runCli(["create", HOST, "plain name, ünïcode ✓"], { KEY_STORE: keyStore })).code, 0);
    const listed = (await runCli(["list", HOST], { KEY_STORE: keyStore })).stdout;
    assert.match(listed, /^[A-Za-z0-9_-]{8}\tplain name, ünïcode ✓\n$/);
  });

  it("shows and deletes a key whose id begins with '-' after --, as docs/cli.md says", async () => {
    const keyStore = freshKeyStore();
    // Only an imported key can have such an id: write one as an import would.
    const backend = await openStore(keyStore);
    const id = "-AbCdEfG";
    try {
      await createKeyStore(backend.keyRecords, backend.usage).putRecord({
        id,
        host: HOST,
        name: "imported",
        createdAt: new Date().toISOString(),
        methods: ["GET", "POST"],
        secretHash: hashSecret("s".repeat(32)),
      });
    } finally {
      await backend.close();
    }
    const env = { KEY_STORE: keyStore };
    // Without --, the id reads as an option: a usage error, nothing deleted.
    assert.equal((await runCli(["delete", HOST, id], env)).code, 2);
    const shown = await runCli(["show", HOST, "--json", "--", id], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal((JSON.parse(shown.stdout) as { id: string }).id, id);
    const deleted = await runCli(["delete", HOST, "--", id], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal((await runCli(["show", HOST, "--", id], env)).code, 1);
  });
});
