import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { createLogger } from "../../src/log.js";
import { memoryCounters } from "../../src/keys/usage/memoryCounters.js";
import { FEED_PAGE, startRedemptionSync } from "../../src/redemptions/redemptionSync.js";
import { tally } from "../../src/redemptions/tally.js";
import type { RedemptionRecord } from "../../src/xmpp/inviteManager.js";

const HOST = "e.test";

/** The module's feed over a fixed list of records: pages after a cursor, as the command answers. */
function feed(records: RedemptionRecord[]) {
  let calls = 0;
  return {
    calls: () => calls,
    available: async () => true,
    redemptions: async (_host: string, page: { after?: string; max: number }) => {
      calls += 1;
      const from = page.after ? records.findIndex((r) => r.cursor === page.after) + 1 : 0;
      return records.slice(from, from + page.max);
    },
  };
}

const record = (i: number, key: string | null, reset = false): RedemptionRecord => ({
  cursor: `${1_800_000_000 + i}.k${i}`,
  id: `tok${i}`,
  jid: `u${i}@${HOST}`,
  at: 1_800_000_000 + i,
  reset,
  ...(key ? { source: `invites-api/${key}` } : {}),
});

const quietLog = () => createLogger("error", new PassThrough());

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
    const usage = memoryCounters();
    await usage.reset("A", { invitesIssued: 0 });
    await usage.reset("B", { invitesIssued: 0 });
    const source = feed(records);
    const options = {
      manager: source,
      usage,
      hosts: async () => [HOST],
      online: () => true,
      intervalMs: 3_600_000,
      log: quietLog(),
    };
    const one = startRedemptionSync(options);
    const two = startRedemptionSync(options);
    try {
      await Promise.all([one.pass(), two.pass(), one.pass()]);
      const counted = await usage.read(["A", "B"]);
      const a = records.filter((_, i) => i % 3 === 0).length;
      assert.equal(counted.get("A")?.accountsRegistered, a);
      assert.equal(counted.get("B")?.accountsRegistered, records.length - a);
      assert.deepEqual(await usage.redemptionTotals(), [{ host: HOST, registrations: records.length, resets: 0 }]);
      assert.equal(await usage.redemptionCursor(HOST), records.at(-1)?.cursor);
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

  it("offline or without the module: reads nothing", async () => {
    const source = feed([record(1, "A")]);
    const usage = memoryCounters();
    const base = { usage, hosts: async () => [HOST], intervalMs: 3_600_000, log: quietLog() };
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
      assert.equal(await usage.redemptionCursor(HOST), null);
    } finally {
      await offline.stop();
      await without.stop();
    }
  });
});
