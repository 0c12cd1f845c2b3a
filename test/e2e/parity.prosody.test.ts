import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startProsody, type RunningProsody } from "../support/prosody.js";
import { runCli, startService, type RunningService } from "../support/service.js";
import { countInvites, inviteIsValid } from "../support/invites.js";
import { filesHolding, keyStoreFiles } from "../support/stack.js";
import { withCharChanged } from "../support/tamper.js";

const HOST = "example.test";
const COMPONENT = { domain: "invites.example.test", secret: "component-secret-for-tests" };
const KEY_SHAPE = /^[A-Za-z0-9_-]{8}\/[A-Za-z0-9_-]{32}$/;

describe("drop-in for mod_invites_api, against a real Prosody", () => {
  let prosody: RunningProsody;
  let service: RunningService;
  let storeDir: string;
  let env: Record<string, string>;
  const secrets: string[] = [];

  async function createKey(...args: string[]): Promise<string> {
    const result = await runCli(["create", HOST, ...args], env);
    assert.equal(result.code, 0, result.stderr);
    const key = result.stdout.trim().split("\n").at(-1) ?? "";
    assert.match(key, KEY_SHAPE);
    secrets.push(key.split("/")[1] ?? "");
    return key;
  }

  const api = (query = "", init: RequestInit = {}) =>
    fetch(`${service.url}/invites_api${query}`, { redirect: "manual", ...init });

  async function assertValidInvite(res: Response, status: number): Promise<void> {
    assert.equal(res.status, status, await res.clone().text());
    const location = res.headers.get("location");
    assert.ok(location, "Location header");
    assert.match(location, new RegExp(`^http://${HOST}:${prosody.httpPort}/invites_page\\?`));
    assert.equal(await res.text(), "", "empty body");
    assert.equal(await inviteIsValid(location, prosody.httpPort), true, `Prosody accepts ${location}`);
  }

  before(async () => {
    prosody = await startProsody({ hosts: [HOST], components: [COMPONENT] });
    storeDir = mkdtempSync(join(tmpdir(), "invites-api-store-"));
    env = { KEY_STORE: join(storeDir, "keys.sqlite") };
    service = await startService({
      ...env,
      COMPONENT_SERVICE: `xmpp://127.0.0.1:${prosody.componentPort}`,
      COMPONENT_DOMAIN: COMPONENT.domain,
      COMPONENT_SECRET: COMPONENT.secret,
    });
    await service.waitForLog((line) => line.msg === "connected to Prosody");
  });

  after(async () => {
    await service?.stop();
    await prosody?.dispose();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  });

  it("issues an invite for a key in the query string (201, Location, empty body)", async () => {
    const key = await createKey("query key");
    const before = await countInvites(prosody.dataDir);
    const res = await api(`?key=${key}`);
    assert.equal(await countInvites(prosody.dataDir), before + 1, "one invite created in Prosody");
    await assertValidInvite(res, 201);
    // The page check itself must tell a forged token from a real one (the last character changed,
    // to one surely different).
    const forged = withCharChanged(res.headers.get("location") ?? "");
    assert.equal(await inviteIsValid(forged, prosody.httpPort), false);
  });

  it("takes the key from an Authorization: Bearer header with no query string", async () => {
    const key = await createKey();
    await assertValidInvite(await api("", { headers: { Authorization: `Bearer ${key}` } }), 201);
  });

  it("accepts the Bearer scheme in any case", async () => {
    const key = await createKey();
    await assertValidInvite(await api("", { headers: { Authorization: `bearer ${key}` } }), 201);
  });

  it("issues an invite on POST", async () => {
    const key = await createKey();
    await assertValidInvite(await api("", { method: "POST", headers: { Authorization: `Bearer ${key}` } }), 201);
  });

  it("answers 303 See Other to the invite with any redirect parameter", async () => {
    const key = await createKey();
    await assertValidInvite(await api(`?key=${key}&redirect`), 303);
    await assertValidInvite(await api(`?redirect=true&key=${key}`), 303);
  });

  it("sends the original's CORS headers, extended for the Bearer header and /invites, on every answer", async () => {
    const key = await createKey();
    for (const res of [await api(`?key=${key}`), await api("?key=nope")]) {
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      assert.equal(res.headers.get("access-control-allow-methods"), "GET, POST, PATCH, DELETE, OPTIONS");
      assert.equal(res.headers.get("access-control-allow-headers"), "Content-Type, Authorization, Idempotency-Key");
      assert.equal(res.headers.get("access-control-max-age"), "7200");
    }
  });

  it("answers a CORS preflight without a key and without asking Prosody", async () => {
    const before = await countInvites(prosody.dataDir);
    const res = await api("", {
      method: "OPTIONS",
      headers: {
        Origin: "https://signup.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "https://signup.example");
    assert.match(res.headers.get("access-control-allow-headers") ?? "", /Authorization/);
    assert.equal(await countInvites(prosody.dataDir), before);
  });

  it("refuses missing, malformed, unknown and wrong-secret keys with 403 and creates nothing", async () => {
    const key = await createKey();
    const [id] = key.split("/");
    const before = await countInvites(prosody.dataDir);
    const refused = [
      await api(""),
      await api("?key="),
      await api("?key=no-slash-here"),
      await api(`?key=${id}/${"x".repeat(32)}`),
      await api(`?key=ZZZZZZZZ/${key.split("/")[1]}`),
      await api("", { headers: { Authorization: `Basic ${Buffer.from("a:b").toString("base64")}` } }),
      await api("", { headers: { Authorization: `Bearer ${id}/wrong` } }),
    ];
    for (const res of refused) assert.equal(res.status, 403);
    assert.equal(await countInvites(prosody.dataDir), before);
  });

  it("refuses a key deleted with the CLI on its next request (403)", async () => {
    const key = await createKey("to delete");
    const [id = ""] = key.split("/");
    await assertValidInvite(await api(`?key=${key}`), 201);
    const listed = await runCli(["list", HOST], env);
    assert.match(listed.stdout, new RegExp(`^${id}\\tto delete$`, "m"));
    // "--": a random id may start with "-", which would otherwise read as an option.
    const deleted = await runCli(["delete", HOST, "--", id], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    const before = await countInvites(prosody.dataDir);
    assert.equal((await api(`?key=${key}`)).status, 403);
    assert.equal(await countInvites(prosody.dataDir), before);
    assert.doesNotMatch((await runCli(["list", HOST], env)).stdout, new RegExp(id));
  });

  it("refuses a deleted key at once even when the service has just looked it up (no stale record kept)", async () => {
    // A GET-only key used with POST is looked up and found (405), and nothing is counted or written.
    const key = await createKey("looked up", "--methods", "GET");
    const [id = ""] = key.split("/");
    const post = () => api("", { method: "POST", headers: { Authorization: `Bearer ${key}` } });
    assert.equal((await post()).status, 405);
    assert.equal((await post()).status, 405);
    const deleted = await runCli(["delete", HOST, "--", id], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal((await post()).status, 403);
  });

  it("answers 405 to a method the key does not allow, and creates nothing", async () => {
    const key = await createKey("get only", "--methods", "GET");
    const before = await countInvites(prosody.dataDir);
    const res = await api("", { method: "POST", headers: { Authorization: `Bearer ${key}` } });
    assert.equal(res.status, 405);
    assert.equal(await countInvites(prosody.dataDir), before);
    await assertValidInvite(await api(`?key=${key}`), 201);
  });

  it("never lets HEAD create an invite", async () => {
    const key = await createKey();
    const before = await countInvites(prosody.dataDir);
    const res = await api(`?key=${key}`, { method: "HEAD" });
    assert.equal(res.status, 405);
    assert.equal(await countInvites(prosody.dataDir), before);
  });

  it("keeps no secret in the key store's files and writes none to the log", async () => {
    assert.ok(secrets.length >= 5);
    // Every file: in WAL mode the latest records are in keys.sqlite-wal, not yet in keys.sqlite.
    const files = keyStoreFiles(env.KEY_STORE ?? "");
    // The check can fail: the records of the keys still there are in the files read.
    const live = (await runCli(["list", HOST], env)).stdout.split("\n").filter(Boolean);
    assert.ok(live.length >= 5, String(live.length));
    for (const line of live) {
      const id = line.split("\t")[0] ?? "-";
      assert.notDeepEqual(filesHolding(files, id), [], `key ${id} is in the store's files`);
    }
    for (const secret of secrets) {
      assert.deepEqual(filesHolding(files, secret), [], "secret in the store's files");
      assert.equal(service.output().includes(secret), false, "secret in the log");
    }
  });
});
