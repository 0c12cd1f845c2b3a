import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { walStamp } from "../../src/keys/walStamp.js";

const dir = mkdtempSync(join(tmpdir(), "walstamp-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function database(name: string): { path: string; db: Database.Database } {
  const path = join(dir, name);
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)");
  return { path, db };
}

// A write from another process, as the CLI makes it.
function writeElsewhere(path: string, sql: string): void {
  const script = `const D = require("better-sqlite3"); const db = new D(process.argv[1]); db.exec(process.argv[2]); db.close();`;
  execFileSync(process.execPath, ["-e", script, path, sql], { cwd: process.cwd(), stdio: "ignore" });
}

describe("the change stamp of a SQLite file in WAL mode", () => {
  it("stays the same over reads, from this connection or another", () => {
    const { path, db } = database("reads.sqlite");
    const stamp = walStamp(path);
    const first = stamp.current();
    assert.equal(typeof first, "number");
    db.prepare("SELECT * FROM t").all();
    const other = new Database(path);
    other.prepare("SELECT * FROM t").all();
    other.close();
    assert.equal(stamp.current(), first);
    stamp.close();
    db.close();
  });

  it("changes on every commit of another process, deletes and checkpoints included", () => {
    const { path, db } = database("writes.sqlite");
    const stamp = walStamp(path);
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
    stamp.close();
    db.close();
  });

  it("changes on each of many commits made in a row by this process", () => {
    const { path, db } = database("many.sqlite");
    const stamp = walStamp(path);
    const insert = db.prepare("INSERT INTO t VALUES (?, ?)");
    let last = stamp.current();
    for (let i = 0; i < 3000; i++) {
      insert.run(String(i), "x");
      const now = stamp.current();
      assert.notEqual(now, last, `commit ${i}`);
      last = now;
    }
    stamp.close();
    db.close();
  });

  it("has no answer without a -shm file (not in WAL mode, or gone)", () => {
    const path = join(dir, "rollback.sqlite");
    const db = new Database(path);
    db.exec("CREATE TABLE t (k TEXT)");
    const stamp = walStamp(path);
    assert.equal(stamp.current(), undefined);
    stamp.close();
    db.close();
    assert.equal(walStamp(join(dir, "nowhere.sqlite")).current(), undefined);
  });
});
