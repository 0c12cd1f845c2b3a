import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { hashSecret } from "../../src/keys/apiKey.js";
import { createKeyStore } from "../../src/keys/keyStore.js";
import { openStore } from "../../src/store/open.js";
import { runCli } from "../support/service.js";
import { freshKeyStore } from "../support/stack.js";

const HOST = "example.test";

/**
 * A key store file as version 0.1.0 wrote it (@keyv/sqlite: table keyv(key, value), keyv's JSON,
 * usage inside the record, no counter table), to check that an upgrade keeps every key working.
 */
function writeOldStore(path: string, id: string, secret: string): void {
  const db = new Database(path);
  try {
    db.exec("CREATE TABLE IF NOT EXISTS keyv(key VARCHAR(255) PRIMARY KEY, value TEXT )");
    const record = {
      id,
      host: HOST,
      name: "from 0.1.0",
      createdAt: "2026-11-01T10:00:00.000Z",
      methods: ["GET", "POST"],
      maxInvites: 5,
      invitesIssued: 4,
      lastUsedAt: "2026-11-20T10:00:00.000Z",
      secretHash: hashSecret(secret),
    };
    db.prepare("INSERT INTO keyv (key, value) VALUES (?, ?)").run(
      `invites-api:key:${id}`,
      JSON.stringify({ value: record, expires: null }),
    );
  } finally {
    db.close();
  }
}

describe("a key store written by 0.1.0", () => {
  it("keeps its keys and their usage; the quota goes on from the count the record carried", async () => {
    const keyStore = freshKeyStore();
    const id = "OldKey01";
    writeOldStore(keyStore, id, "s".repeat(32));
    const env = { KEY_STORE: keyStore };
    const listed = await runCli(["list", HOST, "--json"], env);
    assert.equal(listed.code, 0, listed.stderr);
    const [key] = JSON.parse(listed.stdout) as Array<{ id: string; invitesIssued: number; lastUsedAt: string }>;
    assert.equal(key?.id, id);
    assert.equal(key?.invitesIssued, 4);
    assert.equal(key?.lastUsedAt, "2026-11-20T10:00:00.000Z");
    // Counting goes through the new counters, made from the record's usage on first use.
    const backend = await openStore(keyStore);
    try {
      const keys = createKeyStore(backend.keyRecords, backend.usage);
      assert.equal(await keys.reserveInvite(id, 5, new Date()), "reserved");
      assert.equal(await keys.reserveInvite(id, 5, new Date()), "exhausted");
      assert.equal((await keys.get(HOST, id))?.invitesIssued, 5);
      assert.ok(await keys.verify({ id, secret: "s".repeat(32) }), "the old secret still works");
    } finally {
      await backend.close();
    }
    const deleted = await runCli(["delete", HOST, "--", id], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal((await runCli(["show", HOST, "--", id], env)).code, 1);
  });
});
