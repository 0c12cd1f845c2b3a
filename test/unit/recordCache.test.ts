import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseKey } from "../../src/keys/apiKey.js";
import { createKeyStore } from "../../src/keys/keyStore.js";
import { openBackend } from "../../src/store/open.js";
import { recordCache, type StoredRecord } from "../../src/keys/recordCache.js";
import type { KeyRecord } from "../../src/keys/keyRecord.js";
import type { ChangeStamp } from "../../src/store/store.js";

const record = (id: string, name = ""): KeyRecord => ({
  id,
  host: "e.test",
  name,
  createdAt: "2026-11-29T00:00:00.000Z",
  methods: ["GET", "POST"],
  secretHash: "h",
});

// A stamp moved by hand, and a store whose reads are counted and can be held back. Like keyv, the
// store answers nothing for a row past its `expires`.
function fixture() {
  let stampValue: number | undefined = 1;
  let clock = 0;
  const stamp: ChangeStamp = { current: () => stampValue, close: () => {} };
  const stored = new Map<string, NonNullable<StoredRecord>>();
  const reads: string[] = [];
  let hold: Promise<void> | undefined;
  const read = async (id: string) => {
    reads.push(id);
    const value = stored.get(id);
    if (hold) await hold;
    return typeof value?.expires === "number" && clock > value.expires ? undefined : value;
  };
  return {
    stored,
    reads,
    setStamp: (value: number | undefined) => (stampValue = value),
    setClock: (value: number) => (clock = value),
    holdReads: (until: Promise<void> | undefined) => (hold = until),
    read,
    stamp,
    now: () => clock,
  };
}

describe("the key-record cache", () => {
  it("reads a record once while nothing changes, and again after a change", async () => {
    const f = fixture();
    const cached = recordCache(f.stamp, f.read);
    f.stored.set("a", { value: record("a", "one") });
    assert.equal((await cached("a"))?.name, "one");
    assert.equal((await cached("a"))?.name, "one");
    assert.deepEqual(f.reads, ["a"]);
    f.stored.delete("a");
    f.setStamp(2);
    assert.equal(await cached("a"), undefined, "deleted elsewhere: gone at once");
    assert.deepEqual(f.reads, ["a", "a"]);
  });

  it("keeps a missing id as missing until a change, then finds the key made meanwhile", async () => {
    const f = fixture();
    const cached = recordCache(f.stamp, f.read);
    assert.equal(await cached("b"), undefined);
    assert.equal(await cached("b"), undefined);
    assert.deepEqual(f.reads, ["b"]);
    f.stored.set("b", { value: record("b") });
    f.setStamp(2);
    assert.equal((await cached("b"))?.id, "b");
  });

  it("reads every time and keeps nothing while the store cannot tell of changes", async () => {
    const f = fixture();
    f.setStamp(undefined);
    const cached = recordCache(f.stamp, f.read);
    f.stored.set("c", { value: record("c") });
    await cached("c");
    await cached("c");
    f.setStamp(1);
    await cached("c");
    assert.deepEqual(f.reads, ["c", "c", "c"]);
  });

  it("does not keep a read that began before a change another lookup saw", async () => {
    const f = fixture();
    const cached = recordCache(f.stamp, f.read);
    f.stored.set("d", { value: record("d", "old") });
    let release = () => {};
    f.holdReads(new Promise<void>((resolve) => (release = resolve)));
    const slow = cached("d");
    // The key changes while the first read is still on its way; a second lookup sees the change.
    f.stored.set("d", { value: record("d", "new") });
    f.setStamp(2);
    f.holdReads(undefined);
    assert.equal((await cached("d"))?.name, "new");
    release();
    await slow;
    assert.equal((await cached("d"))?.name, "new");
    assert.equal(f.reads.length, 2, "the new record was kept, the old one was not");
  });

  it("holds at most its number of entries, the oldest going first", async () => {
    const f = fixture();
    const cached = recordCache(f.stamp, f.read, { entries: 3 });
    for (const id of ["1", "2", "3", "4"]) await cached(id);
    await cached("4");
    await cached("2");
    assert.deepEqual(f.reads, ["1", "2", "3", "4"]);
    await cached("1");
    assert.deepEqual(f.reads, ["1", "2", "3", "4", "1"]);
  });

  it("serves a row until keyv's `expires`, then reads it again, with no commit between", async () => {
    const f = fixture();
    const cached = recordCache(f.stamp, f.read, { now: f.now });
    f.stored.set("e", { value: record("e"), expires: 1_000 });
    f.setClock(500);
    assert.equal((await cached("e"))?.id, "e");
    f.setClock(1_000);
    assert.equal((await cached("e"))?.id, "e", "keyv keeps a row up to its `expires` itself");
    assert.deepEqual(f.reads, ["e"]);
    f.setClock(1_001);
    assert.equal(await cached("e"), undefined);
    assert.deepEqual(f.reads, ["e", "e"]);
  });
});

describe("the key-record cache on a SQLite file", () => {
  const dir = mkdtempSync(join(tmpdir(), "recordcache-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a key whose row keyv set to expire, once expired, though nothing was committed since", async () => {
    const backend = await openBackend(join(dir, "keys.sqlite"));
    const keys = createKeyStore(backend.keyRecords, backend.usage, { changes: backend.changes });
    const key = parseKey((await keys.create("e.test")).key)!;
    const stored = await backend.keyRecords.get<KeyRecord>(`key:${key.id}`);
    await backend.keyRecords.set(`key:${key.id}`, stored, 500);
    assert.ok(await keys.verify(key));
    assert.ok(await keys.verify(key));
    const stamp = backend.changes?.current();
    assert.equal(typeof stamp, "number", "lookups are cached");
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(backend.changes?.current(), stamp, "nothing was committed");
    assert.equal(await keys.verify(key), undefined);
    await keys.close();
    await backend.close();
  });
});
