import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runCli } from "../support/service.js";
import { createKey, filesHolding, freshKeyStore, keyStoreFiles } from "../support/stack.js";

// The rotate commands as an operator runs them (issue 30), on a SQLite key store.
const HOST = "example.test";
const HOUR = 3_600_000;

const lines = (stdout: string) => stdout.trim().split("\n");
const untilIn = (line: string) => Date.parse(/until (\S+Z)$/.exec(line)?.[1] ?? "");

describe("invites-api rotate", () => {
  it("prints the new key alone on the last line; the old one's grace shows in show and list --json", async () => {
    const keyStore = freshKeyStore();
    const cli = (...args: string[]) => runCli(args, { KEY_STORE: keyStore });
    const old = await createKey(keyStore, HOST, "client");
    const id = old.split("/")[0] ?? "";
    const before = Date.now();
    const rotated = await cli("rotate", HOST, "--", id);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stderr, /^key store: sqlite /);
    const [said, key] = lines(rotated.stdout) as [string, string];
    assert.match(key, new RegExp(`^${id}/[A-Za-z0-9_-]{32}$`));
    assert.notEqual(key, old);
    assert.match(said, new RegExp(`^key ${id} of ${HOST} has a new secret; the old one works until `));
    const until = untilIn(said);
    assert.ok(until >= before + 24 * HOUR && until <= Date.now() + 24 * HOUR, "24 h by default");

    const shown = lines((await cli("show", HOST, "--", id)).stdout);
    assert.ok(shown.some((l) => /^rotated: +\d{4}-/.test(l)));
    assert.ok(shown.includes(`old secret:   works until ${new Date(until).toISOString()}`), shown.join("\n"));
    const [listed] = JSON.parse((await cli("list", HOST, "--json")).stdout) as Array<Record<string, unknown>>;
    assert.equal(listed?.previousSecretUntil, new Date(until).toISOString());
    assert.equal(listed?.name, "client");
    assert.equal(JSON.stringify(listed).includes("Hash"), false, "no hash shown");
    for (const secret of [old, key].map((k) => k.split("/")[1] ?? "")) {
      assert.deepEqual(filesHolding(keyStoreFiles(keyStore), secret), [], "only hashes are stored");
    }

    const now = await cli("rotate", HOST, "--grace", "0", "--", id);
    assert.equal(now.code, 0, now.stderr);
    assert.equal(lines(now.stdout)[0], `key ${id} of ${HOST} has a new secret; the old one no longer works`);
    assert.equal((await cli("show", HOST, "--", id)).stdout.includes("old secret"), false);
  });

  it("refuses a grace out of range (usage, exit 2, nothing written) and a key it does not have (exit 1)", async () => {
    const keyStore = freshKeyStore();
    const cli = (...args: string[]) => runCli(args, { KEY_STORE: keyStore });
    const id = (await createKey(keyStore, HOST)).split("/")[0] ?? "";
    for (const grace of ["31d", "-1h", "soon"]) {
      const refused = await cli("rotate", HOST, "--grace", grace, "--", id);
      assert.equal(refused.code, 2, grace);
      assert.match(refused.stderr, /at most 30d/);
      assert.equal(refused.stdout, "");
    }
    assert.equal((await cli("show", HOST, "--", id)).stdout.includes("rotated"), false, "nothing written");
    for (const [host, key] of [
      [HOST, "NoSuchKey"],
      ["other.test", id],
    ] as const) {
      const missing = await cli("rotate", host, "--", key);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, new RegExp(`no key ${key} for host ${host}`));
      assert.equal(missing.stdout, "");
    }
  });
});

describe("invites-api webhook rotate", () => {
  it("prints the new signing secret alone on the last line; show tells the grace, never a secret", async () => {
    const keyStore = freshKeyStore();
    const cli = (...args: string[]) => runCli(args, { KEY_STORE: keyStore });
    const added = await cli("webhook", "add", HOST, "http://127.0.0.1:9/in", "--allow-http", "--allow-private");
    assert.equal(added.code, 0, added.stderr);
    const webhookId = /^webhook (\S+) of /.exec(added.stdout)?.[1] ?? "";
    const oldSecret = lines(added.stdout).at(-1) ?? "";
    const rotated = await cli("webhook", "rotate", HOST, webhookId, "--grace", "1h");
    assert.equal(rotated.code, 0, rotated.stderr);
    const [said, secret] = lines(rotated.stdout) as [string, string];
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(secret, oldSecret);
    assert.match(said, new RegExp(`^webhook ${webhookId} of ${HOST} has a new signing secret; deliveries are signed`));
    const until = new Date(untilIn(said)).toISOString();
    const shown = (await cli("webhook", "show", HOST, webhookId)).stdout;
    assert.ok(shown.includes(`old secret:   signs too until ${until}`), shown);
    const json = (await cli("webhook", "show", HOST, "--json", webhookId)).stdout;
    assert.equal((JSON.parse(json) as Record<string, unknown>).previousSecretUntil, until);
    const listed = (await cli("webhook", "list", HOST, "--json")).stdout;
    for (const text of [shown, json, listed]) {
      for (const s of [oldSecret, secret]) assert.equal(text.includes(s.replace(/^whsec_/, "")), false);
    }
    const missing = await cli("webhook", "rotate", HOST, "nosuchhook");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no webhook nosuchhook for host example\.test/);
  });
});
