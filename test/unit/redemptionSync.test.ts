import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { createLogger } from "../../src/log.js";
import { FEED_PAGE, startRedemptionSync } from "../../src/redemptions/redemptionSync.js";
import { tally } from "../../src/redemptions/tally.js";
import { openMemory } from "../../src/store/memory/index.js";
import type { RedemptionRecord } from "../../src/xmpp/inviteManager.js";

const HOST = "e.test";

/**
 * The module's feed over a fixed list of records: pages after a cursor, as the command answers.
 * `hidden`: the cursors of records the service may not see (an admin's own invites). The current
 * module examines at most 2 × (max + 1) records a call and says `next` and `more`; an older one
 * fills the page, however many it examines, and says neither.
 */
function feed(records: RedemptionRecord[], opts: { hidden?: ReadonlySet<string>; older?: boolean } = {}) {
  let calls = 0;
  let examined = 0;
  return {
    calls: () => calls,
    examined: () => examined,
    available: async () => true,
    redemptions: async (_host: string, page: { after?: string; max: number }) => {
      calls += 1;
      let i = page.after ? records.findIndex((r) => r.cursor === page.after) + 1 : 0;
      const budget = opts.older ? Infinity : 2 * (page.max + 1);
      const shown: RedemptionRecord[] = [];
      let seen = 0;
      for (; i < records.length && seen < budget && shown.length < page.max; i += 1) {
        seen += 1;
        const one = records[i] as RedemptionRecord;
        if (!opts.hidden?.has(one.cursor)) shown.push(one);
      }
      examined += seen;
      if (opts.older) return { records: shown };
      const last = seen > 0 ? records[i - 1] : undefined;
      return { records: shown, ...(last ? { next: last.cursor } : {}), more: i < records.length };
    },
  };
}

const record = (i: number, key: string | null, reset = false): RedemptionRecord => ({
  cursor: `${1_800_000_000 + i}.k${i}`,
  id: `tok${i}`,
  jid: `u${i}@${HOST}`,
  at: 1_800_000_000 + i,
  kind: reset ? "reset" : "registered",
  reset,
  ...(key ? { source: `invites-api/${key}` } : {}),
});

const quietLog = () => createLogger("error", new PassThrough());

/** Two instances' options over one source and one store; passes only when a test asks. */
const syncOptions = <M, L>(manager: M, ledger: L) => ({
  manager,
  ledger,
  hosts: async () => [HOST],
  online: () => true,
  intervalMs: 3_600_000,
  log: quietLog(),
});

describe("counting the module's registration records", () => {
  it("tally: accounts per key (resets and invites made elsewhere count only in the totals)", () => {
    const batch = tally(HOST, null, [
      record(1, "A"),
      record(2, "A"),
      record(3, "B"),
      record(4, null),
      record(5, "A", true),
    ]);
    assert.deepEqual(
      [...batch.accounts].map(([k, v]) => [k, v.count]),
      [
        ["A", 2],
        ["B", 1],
      ],
    );
    assert.equal(batch.accounts.get("A")?.lastAt, new Date(1_800_000_002_000).toISOString());
    assert.deepEqual([batch.registrations, batch.resets, batch.to], [4, 1, record(5, "A", true).cursor]);
  });

  it("reads page after page, and two syncs on one store count each record once", async () => {
    const records = Array.from({ length: FEED_PAGE * 2 + 7 }, (_, i) => record(i, i % 3 === 0 ? "A" : "B"));
    const { usage, ledger } = openMemory();
    await usage.create("A", { invitesIssued: 0 });
    await usage.create("B", { invitesIssued: 0 });
    const source = feed(records);
    const options = syncOptions(source, ledger);
    const one = startRedemptionSync(options);
    const two = startRedemptionSync(options);
    try {
      await Promise.all([one.pass(), two.pass(), one.pass()]);
      const counted = await usage.read(["A", "B"]);
      const a = records.filter((_, i) => i % 3 === 0).length;
      assert.equal(counted.get("A")?.accountsRegistered, a);
      assert.equal(counted.get("B")?.accountsRegistered, records.length - a);
      assert.deepEqual(await ledger.redemptionTotals(), [{ host: HOST, registrations: records.length, resets: 0 }]);
      assert.equal(await ledger.redemptionCursor(HOST), records.at(-1)?.cursor);
      // Caught up: a further pass reads one empty page and counts nothing.
      const before = source.calls();
      await one.pass();
      assert.equal(source.calls(), before + 1);
      assert.equal((await usage.read(["A"])).get("A")?.accountsRegistered, a);
    } finally {
      await one.stop();
      await two.stop();
    }
  });

  it("records the service may not see are read once: the cursor moves past them, by batches with no record too", async () => {
    // 3 of the service's, 1,000 of an admin's own, 2 of the service's, 500 of the admin's.
    const records = Array.from({ length: 1_505 }, (_, i) => record(i, "A"));
    const hidden = new Set(records.filter((_, i) => (i >= 3 && i < 1_003) || i >= 1_005).map((r) => r.cursor));
    const { usage, ledger } = openMemory();
    await usage.create("A", { invitesIssued: 0 });
    const source = feed(records, { hidden });
    const options = syncOptions(source, ledger);
    const one = startRedemptionSync(options);
    const two = startRedemptionSync(options);
    try {
      // Two instances at once: an empty batch moves the cursor with the same compare as any other.
      await Promise.all([one.pass(), two.pass()]);
      assert.equal((await usage.read(["A"])).get("A")?.accountsRegistered, 5);
      assert.deepEqual(await ledger.redemptionTotals(), [{ host: HOST, registrations: 5, resets: 0 }]);
      assert.equal(await ledger.redemptionCursor(HOST), records.at(-1)?.cursor);
      // Every call examined at most 2 × (FEED_PAGE + 1) records; the next pass examines none.
      const examined = source.examined();
      assert.ok(examined <= 2 * records.length, `${examined} records examined`);
      await one.pass();
      assert.equal(source.examined(), examined);
      assert.equal((await usage.read(["A"])).get("A")?.accountsRegistered, 5);
    } finally {
      await one.stop();
      await two.stop();
    }
  });

  it("an older module (no next): the cursor moves to the last record given, as before", async () => {
    const records = Array.from({ length: 10 }, (_, i) => record(i, "A"));
    const hidden = new Set(records.slice(2).map((r) => r.cursor));
    const { usage, ledger } = openMemory();
    await usage.create("A", { invitesIssued: 0 });
    const source = feed(records, { hidden, older: true });
    const sync = startRedemptionSync({
      manager: source,
      ledger,
      hosts: async () => [HOST],
      online: () => true,
      intervalMs: 3_600_000,
      log: quietLog(),
    });
    try {
      await sync.pass();
      assert.equal(await ledger.redemptionCursor(HOST), records[1]?.cursor);
      assert.equal((await usage.read(["A"])).get("A")?.accountsRegistered, 2);
      await sync.pass();
      assert.equal((await usage.read(["A"])).get("A")?.accountsRegistered, 2);
    } finally {
      await sync.stop();
    }
  });

  it("offline or without the module: reads nothing", async () => {
    const source = feed([record(1, "A")]);
    const { ledger } = openMemory();
    const base = { ledger, hosts: async () => [HOST], intervalMs: 3_600_000, log: quietLog() };
    const offline = startRedemptionSync({ ...base, manager: source, online: () => false });
    const without = startRedemptionSync({
      ...base,
      manager: { ...source, available: async () => false },
      online: () => true,
    });
    try {
      await offline.pass();
      await without.pass();
      assert.equal(source.calls(), 0);
      assert.equal(await ledger.redemptionCursor(HOST), null);
    } finally {
      await offline.stop();
      await without.stop();
    }
  });
});
