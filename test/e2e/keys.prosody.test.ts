import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { inviteIsValid } from "../support/invites.js";
import { INVITE_MODULES, startProsody, type RunningProsody } from "../support/prosody.js";
import { runCli, startService, type RunningService } from "../support/service.js";
import { createKey, filesHolding, freshKeyStore, keyStoreFiles, serviceEnv, waitReady } from "../support/stack.js";

const HOST = "example.test";
const COMPONENT = { domain: "invites.example.test", secret: "keys-secret" };

describe("key options, limits and usage, against a real Prosody", () => {
  let prosody: RunningProsody;
  let service: RunningService;
  let keyStore: string;
  const ids: string[] = [];
  const secrets: string[] = [];

  const key = async (...args: string[]) => {
    const k = await createKey(keyStore, HOST, ...args);
    ids.push(k.split("/")[0] ?? "");
    secrets.push(k.split("/")[1] ?? "");
    return k;
  };
  const get = (k: string, init: RequestInit = {}) =>
    fetch(`${service.url}/invites_api?key=${k}`, { redirect: "manual", ...init });

  before(async () => {
    prosody = await startProsody({ hosts: [HOST], components: [COMPONENT] });
    keyStore = freshKeyStore();
    service = await startService(serviceEnv(prosody, COMPONENT, keyStore, { AUTH_FAILURE_LIMIT: "5/1m" }));
    await waitReady(service.url, 10_000);
  });
  after(async () => {
    await service?.stop();
    await prosody?.dispose();
  });

  it("--expires: the key works until then, then gets 403 saying it expired", async () => {
    // Long enough for a slow CLI call before the first request; the wait is taken from the key's
    // own expiry, as stored, not from the clock of this test.
    const k = await key("short-lived", "--expires", "8s");
    assert.equal((await get(k)).status, 201);
    const shown = await runCli(["show", HOST, "--json", "--", k.split("/")[0] ?? ""], { KEY_STORE: keyStore });
    assert.equal(shown.code, 0, shown.stderr);
    const expiresAt = Date.parse(String((JSON.parse(shown.stdout) as { expiresAt?: string }).expiresAt));
    assert.ok(Number.isFinite(expiresAt), shown.stdout);
    await sleep(Math.max(0, expiresAt - Date.now()) + 250);
    const res = await get(k);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /expired/);
  });

  it("--rate: 429 with Retry-After past the rate, and service again after the window", async () => {
    // A window long enough for three requests on a loaded machine.
    const k = await key("rated", "--rate", "2/5s");
    assert.equal((await get(k)).status, 201);
    assert.equal((await get(k)).status, 201);
    const limited = await get(k);
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 5, String(retryAfter));
    await sleep(retryAfter * 1_000 + 100);
    const again = await get(k);
    assert.equal(again.status, 201);
    assert.ok(await inviteIsValid(again.headers.get("location") ?? "", prosody.httpPort));
  });

  it("--max-invites: 403 saying so once the quota is used", async () => {
    const k = await key("quota", "--max-invites", "2");
    assert.equal((await get(k)).status, 201);
    assert.equal((await get(k)).status, 201);
    const res = await get(k);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /all the invites/);
  });

  it("list --json and show give every option and the usage", async () => {
    const k = await key("everything", "--expires", "30d", "--methods", "GET", "--rate", "10/1m", "--max-invites", "7");
    const [id] = k.split("/");
    assert.equal((await get(k)).status, 201);
    const listed = JSON.parse((await runCli(["list", HOST, "--json"], { KEY_STORE: keyStore })).stdout) as Array<
      Record<string, unknown>
    >;
    const entry = listed.find((e) => e.id === id);
    assert.ok(entry);
    assert.equal(entry.name, "everything");
    assert.deepEqual(entry.methods, ["GET"]);
    assert.deepEqual(entry.rate, { points: 10, durationSeconds: 60 });
    assert.equal(entry.maxInvites, 7);
    assert.equal(entry.invitesIssued, 1);
    assert.ok(Date.parse(String(entry.expiresAt)) > Date.now() + 29 * 86_400_000);
    assert.ok(Date.now() - Date.parse(String(entry.lastUsedAt)) < 60_000);
    assert.equal(JSON.stringify(listed).includes("secretHash"), false);
    // "--": a random id may start with "-", which would otherwise read as an option.
    const shown = await runCli(["show", HOST, "--", id ?? ""], { KEY_STORE: keyStore });
    assert.match(shown.stdout, /^invites:\s+1$/m);
    assert.match(shown.stdout, /^rate:\s+10\/1m$/m);
    assert.match(shown.stdout, /^max invites:\s+7$/m);
    const plain = await runCli(["list", HOST], { KEY_STORE: keyStore });
    assert.match(plain.stdout, new RegExp(`^${id}\\teverything$`, "m"));
  });

  it("writes one audit line per invite with key id, host and expiry, never the token", async () => {
    const k = await key("audited");
    const [id] = k.split("/");
    const res = await get(k);
    const token = new URL(res.headers.get("location") ?? "").search.slice(1);
    const line = await service.waitForLog((l) => l.audit === "invite" && l.keyId === id);
    assert.equal(line.host, HOST);
    assert.match(String(line.expires), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(service.output().includes(token), false, "the invite token is not logged");
  });

  it("limits failed key attempts per address (429), even for a valid key from there", async () => {
    const statuses = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await get(`AAAAAAAA/${"b".repeat(32)}`)).status);
    assert.deepEqual(statuses, [403, 403, 403, 403, 403, 429]);
    const valid = await get(await key("blocked"));
    assert.equal(valid.status, 429);
    assert.ok(Number(valid.headers.get("retry-after")) > 0);
  });

  it("keeps no secret in the store's files", () => {
    // Every file: in WAL mode the latest records are in keys.sqlite-wal, not yet in keys.sqlite.
    const files = keyStoreFiles(keyStore);
    assert.ok(secrets.length >= 6);
    // The check can fail: the records are in the files read.
    for (const id of ids) assert.notDeepEqual(filesHolding(files, id), [], `key ${id} is in the store's files`);
    for (const secret of secrets) assert.deepEqual(filesHolding(files, secret), [], "a secret is in the store");
  });
});

describe("importing keys from mod_invites_api", () => {
  for (const storage of ["internal", "sql"] as const) {
    it(`imports keys made by prosodyctl mod_invites_api (${storage} storage); the original strings keep working`, async () => {
      const prosody = await startProsody({
        hosts: [HOST],
        components: [COMPONENT],
        storage,
        hostModules: [...INVITE_MODULES, "invites_api"],
      });
      const keyStore = freshKeyStore();
      try {
        const originals = [
          prosody.ctl(["mod_invites_api", "create", HOST, "Old signup page"]),
          prosody.ctl(["mod_invites_api", "create", HOST, "Old script"]),
        ].map((out) => out.trim().split("\n").at(-1) ?? "");
        for (const original of originals) assert.match(original, /^[\w-]+\/[\w-]+$/);

        // The service runs before the import and has looked the keys up: it must find them at once after.
        const service = await startService(serviceEnv(prosody, COMPONENT, keyStore));
        try {
          await waitReady(service.url, 10_000);
          for (const original of originals) {
            assert.equal((await fetch(`${service.url}/invites_api?key=${original}`)).status, 403);
          }

          const first = await runCli(["import", HOST, "--from", prosody.dataDir], { KEY_STORE: keyStore });
          assert.equal(first.code, 0, first.stderr);
          assert.match(first.stdout, /2 imported, 0 already there/);
          const second = await runCli(["import", HOST, "--from", prosody.dataDir], { KEY_STORE: keyStore });
          assert.match(second.stdout, /0 imported, 2 already there/);
          assert.ok(keyStoreFiles(keyStore).length > 0);

          const listed = await runCli(["list", HOST], { KEY_STORE: keyStore });
          for (const [i, name] of ["Old signup page", "Old script"].entries()) {
            assert.match(listed.stdout, new RegExp(`^${originals[i]?.split("/")[0]}\\t${name}$`, "m"));
          }

          for (const original of originals) {
            const byQuery = await fetch(`${service.url}/invites_api?key=${original}`, { redirect: "manual" });
            assert.equal(byQuery.status, 201);
            assert.ok(await inviteIsValid(byQuery.headers.get("location") ?? "", prosody.httpPort));
            const byBearer = await fetch(`${service.url}/invites_api`, {
              method: "POST",
              headers: { Authorization: `Bearer ${original}` },
            });
            assert.equal(byBearer.status, 201);
          }
        } finally {
          await service.stop();
        }
        const files = keyStoreFiles(keyStore);
        for (const original of originals) {
          const [id = "-", token = "-"] = original.split("/");
          assert.notDeepEqual(filesHolding(files, id), [], `key ${id} is in the store's files`);
          assert.deepEqual(filesHolding(files, token), [], "token stored hashed");
        }
      } finally {
        await prosody.dispose();
      }
    });
  }

  it("refuses unreadable or foreign files with a clear error and imports nothing", async () => {
    const keyStore = freshKeyStore();
    const dir = dirname(keyStore);
    const cases: Array<[string, string | Buffer]> = [
      ["notes.txt", "these are not keys"],
      ["evil.dat", 'os.execute("touch /tmp/pwned") return {}'],
      ["wrong.dat", 'return { ["abcdefgh"] = { ["id"] = "abcdefgh"; ["token"] = "short"; }; };'],
      ["fake.sqlite", Buffer.concat([Buffer.from("SQLite format 3\0"), Buffer.alloc(200)])],
    ];
    for (const [name, content] of cases) {
      const path = join(dir, name);
      writeFileSync(path, content);
      const result = await runCli(["import", HOST, "--from", path], { KEY_STORE: keyStore });
      assert.equal(result.code, 1, name);
      // The store it would have written (said first, as docs/cli.md says), then the one-line error.
      assert.match(result.stderr, /^key store: sqlite [^\n]+\nerror: [^\n]+\n$/, name);
      assert.doesNotMatch(result.stderr, /\n\s+at /, name);
    }
    const missing = await runCli(["import", HOST, "--from", join(dir, "nowhere")], { KEY_STORE: keyStore });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);
    assert.equal((await runCli(["list", HOST], { KEY_STORE: keyStore })).stdout, "");
  });
});
