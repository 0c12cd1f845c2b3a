import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Keyv from "keyv";
import { createKeyStore } from "../../src/keys/keyStore.js";
import { parseKey } from "../../src/keys/apiKey.js";
import { refusal } from "../../src/keys/powers.js";
import { KeyNotFoundError } from "../../src/errors.js";

describe("key store over keyv", () => {
  it("verifies a created key and nothing else", async () => {
    const keys = createKeyStore(new Keyv());
    const { key, info } = await keys.create("example.com", { name: "n" });
    const parsed = parseKey(key);
    assert.ok(parsed);
    assert.deepEqual(await keys.verify(parsed), info);
    assert.equal(
      await keys.verify({ ...parsed, secret: parsed.secret.replace(/^./, (c) => (c === "a" ? "b" : "a")) }),
      undefined,
    );
    assert.deepEqual(info.methods, ["GET", "POST"]);
  });

  it("reads keys made before scope lists: their one scope, or create; never a power they lacked", async () => {
    const keys = createKeyStore(new Keyv());
    const { key } = await keys.create("example.com");
    const parsed = parseKey(key);
    assert.ok(parsed);
    const record = await keys.getRecord(parsed.id);
    assert.ok(record);
    const { scopes: _scopes, ...legacy } = record;
    for (const [scope, expected] of [
      [undefined, ["create"]],
      ["create", ["create"]],
      ["manage", ["manage"]],
    ] as const) {
      await keys.putRecord({ ...legacy, ...(scope ? { scope } : {}) });
      const info = await keys.verify(parsed);
      assert.deepEqual(info?.scopes, expected, String(scope));
      assert.equal("scope" in (info ?? {}), false);
      assert.equal(refusal(info!, "reset") === undefined, scope === "manage");
      assert.equal(refusal(info!, "group") === undefined, scope === "manage");
      assert.equal(refusal(info!, "account"), undefined);
    }
  });

  it("stores only the hash of the secret", async () => {
    const map = new Map<string, unknown>();
    const keys = createKeyStore(new Keyv({ store: map }));
    const { key } = await keys.create("example.com");
    const secret = key.split("/")[1] ?? "";
    assert.equal(JSON.stringify([...map.entries()]).includes(secret), false);
  });

  it("counts usage of keys without a quota in batches, and never revives a deleted key", async () => {
    const keys = createKeyStore(new Keyv());
    const a = await keys.create("a.example");
    const b = await keys.create("a.example");
    keys.recordInvite(a.info.id, new Date("2026-11-28T10:00:00Z"));
    keys.recordInvite(a.info.id, new Date("2026-11-28T10:00:01Z"));
    keys.recordInvite(b.info.id, new Date("2026-11-28T10:00:02Z"));
    assert.equal((await keys.get("a.example", a.info.id))?.invitesIssued, 0, "not written yet");
    await keys.delete("a.example", b.info.id);
    await keys.flush();
    const stored = await keys.get("a.example", a.info.id);
    assert.equal(stored?.invitesIssued, 2);
    assert.equal(stored?.lastUsedAt, "2026-11-28T10:00:01.000Z");
    assert.equal(await keys.get("a.example", b.info.id), undefined);
  });

  it("lists the keys of one host, and delete removes only that host's key", async () => {
    const keys = createKeyStore(new Keyv());
    const a = await keys.create("a.example");
    await keys.create("b.example");
    assert.deepEqual(
      (await keys.list("a.example")).map((k) => k.id),
      [a.info.id],
    );
    await assert.rejects(keys.delete("b.example", a.info.id), KeyNotFoundError);
    await keys.delete("a.example", a.info.id);
    assert.deepEqual(await keys.list("a.example"), []);
    assert.equal(await keys.verify(parseKey(a.key)!), undefined);
  });
});
