import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { runCli, type RunningService } from "../support/service.js";
import { createKey, startServiceWithoutXmpp } from "../support/stack.js";

const HOST = "example.test";

/**
 * KEY_STORE given as a symlink: SQLite keeps its -wal and -shm beside the target, and the service
 * must read that -shm to keep key records between commits (src/store/sqlite/walStamp.ts), never an old one
 * left beside the link. A GET-only key sent with POST is looked up and answered 405 (nothing
 * written, no Prosody needed); once deleted, 403.
 */
describe("key records kept between commits, with KEY_STORE a symlink", () => {
  const dir = mkdtempSync(join(tmpdir(), "invites-api-link-"));
  const link = join(dir, "link", "keys.sqlite");
  const env = { KEY_STORE: link };
  let service: RunningService;

  before(async () => {
    mkdirSync(join(dir, "link"));
    mkdirSync(join(dir, "target"));
    symlinkSync(join(dir, "target", "keys.sqlite"), link);
    // An old -shm and -wal beside the link, copied from a live database: headers that never change.
    const scratch = join(dir, "scratch.sqlite");
    const db = new Database(scratch);
    db.pragma("journal_mode = WAL");
    db.exec("CREATE TABLE t (k TEXT)");
    for (const suffix of ["-shm", "-wal"]) copyFileSync(`${scratch}${suffix}`, `${link}${suffix}`);
    db.close();
  });

  after(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (key: string) =>
    (await fetch(`${service.url}/invites_api`, { method: "POST", headers: { Authorization: `Bearer ${key}` } })).status;

  it("refuses a key on the first request after a CLI delete", async () => {
    const key = await createKey(link, HOST, "linked", "--methods", "GET");
    service = await startServiceWithoutXmpp(env);
    for (let i = 0; i < 3; i++) assert.equal(await post(key), 405, "the key is accepted");
    const deleted = await runCli(["delete", HOST, "--", key.split("/")[0] ?? ""], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(await post(key), 403);
  });
});
