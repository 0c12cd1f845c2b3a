import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { parseKey } from "../../src/keys/apiKey.js";
import { createKeyStore } from "../../src/keys/keyStore.js";
import { openBackend } from "../../src/store/open.js";
import { walStamp } from "../../src/store/sqlite/walStamp.js";

const dir = mkdtempSync(join(tmpdir(), "walstamp-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function database(name: string): { path: string; db: Database.Database } {
  const path = join(dir, name);
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)");
  return { path, db };
}

// The commit with which the stamp checks that it reads the -shm file SQLite writes.
const commitOn = (db: Database.Database) => () => void db.pragma("user_version = 1");

// A write from another process, as the CLI makes it.
function writeElsewhere(path: string, sql: string): void {
  const script = `const D = require("better-sqlite3"); const db = new D(process.argv[1]); db.exec(process.argv[2]); db.close();`;
  execFileSync(process.execPath, ["-e", script, path, sql], { cwd: process.cwd(), stdio: "ignore" });
}

describe("the change stamp of a SQLite file in WAL mode", () => {
  it("stays the same over reads, from this connection or another", () => {
    const { path, db } = database("reads.sqlite");
    const stamp = walStamp(path, { commit: commitOn(db) });
    const first = stamp.current();
    assert.equal(typeof first, "number");
    db.prepare("SELECT * FROM t").all();
    const other = new Database(path);
    other.prepare("SELECT * FROM t").all();
    other.close();
    assert.equal(stamp.current(), first);
    db.close();
    stamp.close();
  });

  it("changes on every commit of another process, deletes and checkpoints included", () => {
    const { path, db } = database("writes.sqlite");
    const stamp = walStamp(path, { commit: commitOn(db) });
    const seen = [stamp.current()];
    const writes = [
      "INSERT INTO t VALUES ('a', '1')",
      "UPDATE t SET v = '2' WHERE k = 'a'",
      "DELETE FROM t WHERE k = 'a'",
      // A checkpoint that empties the WAL: the next commit starts it again, with new salts.
      "PRAGMA wal_checkpoint(TRUNCATE); INSERT INTO t VALUES ('b', '1')",
      "INSERT INTO t VALUES ('c', '1')",
    ];
    for (const sql of writes) {
      writeElsewhere(path, sql);
      seen.push(stamp.current());
      assert.equal(stamp.current(), seen.at(-1), "asked again without a commit");
    }
    assert.equal(new Set(seen).size, seen.length, `one new stamp per commit: ${seen.join(",")}`);
    assert.ok(seen.every((value) => value !== undefined));
    db.close();
    stamp.close();
  });

  it("changes on each of many commits made in a row by this process", () => {
    const { path, db } = database("many.sqlite");
    const stamp = walStamp(path, { commit: commitOn(db) });
    const insert = db.prepare("INSERT INTO t VALUES (?, ?)");
    let last = stamp.current();
    for (let i = 0; i < 3000; i++) {
      insert.run(String(i), "x");
      const now = stamp.current();
      assert.notEqual(now, last, `commit ${i}`);
      last = now;
    }
    db.close();
    stamp.close();
  });

  it("has no answer without a -shm file (not in WAL mode, or gone)", () => {
    const path = join(dir, "rollback.sqlite");
    const db = new Database(path);
    db.exec("CREATE TABLE t (k TEXT)");
    const stamp = walStamp(path, { commit: commitOn(db) });
    assert.equal(stamp.current(), undefined);
    db.close();
    stamp.close();
    assert.equal(walStamp(join(dir, "nowhere.sqlite"), { commit: () => {} }).current(), undefined);
  });

  it("has no answer once closed, and opens nothing again", () => {
    const { path, db } = database("closed.sqlite");
    const stamp = walStamp(path, { commit: commitOn(db) });
    assert.equal(typeof stamp.current(), "number");
    // Another process's connection keeps the -shm file there.
    const other = new Database(path);
    other.prepare("SELECT * FROM t").all();
    db.close();
    stamp.close();
    assert.equal(stamp.current(), undefined);
    other.close();
  });

  it("has no answer from a -shm file SQLite does not write, even one that agrees with its -wal", () => {
    const { path, db } = database("live.sqlite");
    db.exec("INSERT INTO t VALUES ('a', '1')");
    // A stray pair, as one left beside a symlink: copies of a live -shm and of its -wal.
    const stray = join(dir, "stray.sqlite");
    for (const suffix of ["-shm", "-wal"]) copyFileSync(`${path}${suffix}`, `${stray}${suffix}`);
    const reasons: string[] = [];
    const stamp = walStamp(stray, { commit: commitOn(db), log: (reason) => reasons.push(reason) });
    for (let i = 0; i < 5; i++) assert.equal(stamp.current(), undefined);
    assert.deepEqual(reasons, ["the -shm file did not change on a commit"]);
    db.close();
    stamp.close();
  });

  it("has no answer when the salts in the -shm file are not those of the -wal file beside it", () => {
    const { path, db } = database("salted.sqlite");
    const other = database("other.sqlite");
    other.db.exec("INSERT INTO t VALUES ('a', '1')");
    // SQLite's own -shm (the same file: it changes on each commit) beside another database's WAL.
    const mixed = join(dir, "mixed.sqlite");
    linkSync(`${path}-shm`, `${mixed}-shm`);
    copyFileSync(`${other.path}-wal`, `${mixed}-wal`);
    const reasons: string[] = [];
    const stamp = walStamp(mixed, { commit: commitOn(db), log: (reason) => reasons.push(reason) });
    for (let i = 0; i < 5; i++) assert.equal(stamp.current(), undefined);
    assert.deepEqual(reasons, ["the salts of the -shm and -wal files differ"]);
    db.close();
    other.db.close();
    stamp.close();
  });
});

describe("the SQLite key store behind a symlink", () => {
  it("reads the -shm file SQLite writes beside the target, not an old one beside the link", async () => {
    const { path: scratch, db: scratchDb } = database("scratch.sqlite");
    scratchDb.exec("INSERT INTO t VALUES ('a', '1')");
    mkdirSync(join(dir, "target"));
    mkdirSync(join(dir, "link"));
    const link = join(dir, "link", "keys.sqlite");
    symlinkSync(join(dir, "target", "keys.sqlite"), link);
    // An old -shm (and its -wal) beside the link, which the service used to read.
    for (const suffix of ["-shm", "-wal"]) copyFileSync(`${scratch}${suffix}`, `${link}${suffix}`);
    scratchDb.close();

    const backend = await openBackend(link);
    const keys = createKeyStore(backend.keyRecords, backend.usage, { changes: backend.changes });
    const key = parseKey((await keys.create("e.test")).key)!;
    assert.ok(await keys.verify(key));
    assert.equal(typeof backend.changes?.current(), "number", "lookups are cached");
    writeElsewhere(link, `DELETE FROM keyv WHERE key = 'invites-api:key:${key.id}'`);
    assert.equal(await keys.verify(key), undefined, "deleted through SQLite: refused at once");
    await keys.close();
    await backend.close();
  });
});
