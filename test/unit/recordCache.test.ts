import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recordCache } from "../../src/keys/recordCache.js";
import type { KeyRecord } from "../../src/keys/keyRecord.js";
import type { ChangeStamp } from "../../src/keys/walStamp.js";

const record = (id: string, name = ""): KeyRecord => ({
  id,
  host: "e.test",
  name,
  createdAt: "2026-11-29T00:00:00.000Z",
  methods: ["GET", "POST"],
  secretHash: "h",
});

// A stamp moved by hand, and a store whose reads are counted and can be held back.
function fixture() {
  let stampValue: number | undefined = 1;
  const stamp: ChangeStamp = { current: () => stampValue, close: () => {} };
  const stored = new Map<string, KeyRecord>();
  const reads: string[] = [];
  let hold: Promise<void> | undefined;
  const read = async (id: string) => {
    reads.push(id);
    const value = stored.get(id);
    if (hold) await hold;
    return value;
  };
  return {
    stored,
    reads,
    setStamp: (value: number | undefined) => (stampValue = value),
    holdReads: (until: Promise<void> | undefined) => (hold = until),
    read,
    stamp,
  };
}

describe("the key-record cache", () => {
  it("reads a record once while nothing changes, and again after a change", async () => {
    const f = fixture();
    const cached = recordCache(f.stamp, f.read);
    f.stored.set("a", record("a", "one"));
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
    f.stored.set("b", record("b"));
    f.setStamp(2);
    assert.equal((await cached("b"))?.id, "b");
  });

  it("reads every time and keeps nothing while the store cannot tell of changes", async () => {
    const f = fixture();
    f.setStamp(undefined);
    const cached = recordCache(f.stamp, f.read);
    f.stored.set("c", record("c"));
    await cached("c");
    await cached("c");
    f.setStamp(1);
    await cached("c");
    assert.deepEqual(f.reads, ["c", "c", "c"]);
  });

  it("does not keep a read that began before a change another lookup saw", async () => {
    const f = fixture();
    const cached = recordCache(f.stamp, f.read);
    f.stored.set("d", record("d", "old"));
    let release = () => {};
    f.holdReads(new Promise<void>((resolve) => (release = resolve)));
    const slow = cached("d");
    // The key changes while the first read is still on its way; a second lookup sees the change.
    f.stored.set("d", record("d", "new"));
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
    const cached = recordCache(f.stamp, f.read, 3);
    for (const id of ["1", "2", "3", "4"]) await cached(id);
    await cached("4");
    await cached("2");
    assert.deepEqual(f.reads, ["1", "2", "3", "4"]);
    await cached("1");
    assert.deepEqual(f.reads, ["1", "2", "3", "4", "1"]);
  });
});
