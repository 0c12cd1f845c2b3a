import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import Keyv from "keyv";
import { createLogger } from "../../src/log.js";
import { inviterOf, joinedMessage, notifyInviterBy } from "../../src/redemptions/inviterNotice.js";
import { startRedemptionSync } from "../../src/redemptions/redemptionSync.js";
import { openMemory } from "../../src/store/memory/index.js";
import type { FeedKind, RedemptionRecord } from "../../src/xmpp/inviteManager.js";

const HOST = "e.test";

const record = (i: number, source: string | undefined, kind: FeedKind = "registered"): RedemptionRecord => ({
  cursor: `${1_800_000_000 + i}.k${i}`,
  id: `tok${i}`,
  jid: kind === "registered" || kind === "reset" ? `u${i}@${HOST}` : "",
  at: 1_800_000_000 + i,
  kind,
  reset: kind === "reset",
  ...(source ? { source } : {}),
});

/** The module's feed over a fixed list, all in one page. */
const feed = (records: RedemptionRecord[]) => ({
  available: async () => true,
  redemptions: async (_host: string, page: { after?: string }) => {
    const from = page.after ? records.findIndex((r) => r.cursor === page.after) + 1 : 0;
    const shown = records.slice(from);
    return { records: shown, ...(shown.length ? { next: shown.at(-1)?.cursor } : {}), more: false };
  },
});

function sync(records: RedemptionRecord[], opts: { people?: Keyv; fail?: boolean } = {}) {
  const told: string[] = [];
  const logged = new PassThrough();
  let log = "";
  logged.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const { ledger } = openMemory();
  const options = {
    manager: feed(records),
    ledger,
    hosts: async () => [HOST],
    online: () => true,
    intervalMs: 3_600_000,
    log: createLogger("warn", logged),
    ...(opts.people ? { people: opts.people } : {}),
    notifyInviter: async (host: string, inviter: string, newJid: string) => {
      if (opts.fail) throw new Error("not connected to Prosody");
      told.push(`${host} ${inviter} ${newJid}`);
    },
  };
  return { told, ledger, options, log: () => log };
}

describe("the inviter hears back", () => {
  it("each registration through a person's invite, once; not a key's, a reset, an expiry, another host's person", async () => {
    const records = [
      record(1, `invites-api/alice@${HOST}`),
      record(2, "invites-api/KEYID"),
      record(3, `invites-api/alice@${HOST}`, "reset"),
      record(4, `invites-api/alice@${HOST}`, "expired"),
      record(5, "invites-api/mallory@other.test"),
      record(6, undefined),
      record(7, `invites-api/bob@${HOST}`),
    ];
    const { told, options, ledger } = sync(records);
    const one = startRedemptionSync(options);
    const two = startRedemptionSync(options);
    try {
      await Promise.all([one.pass(), two.pass(), one.pass()]);
      await two.pass();
      assert.deepEqual(told, [`${HOST} alice@${HOST} u1@${HOST}`, `${HOST} bob@${HOST} u7@${HOST}`]);
      assert.equal(await ledger.redemptionCursor(HOST), records.at(-1)?.cursor);
    } finally {
      await one.stop();
      await two.stop();
    }
  });

  it("not a person whose notify:JID is false in the people store", async () => {
    const people = new Keyv();
    await people.set(`notify:alice@${HOST}`, false);
    await people.set(`notify:bob@${HOST}`, true);
    const { told, options } = sync(
      [
        record(1, `invites-api/alice@${HOST}`),
        record(2, `invites-api/bob@${HOST}`),
        record(3, `invites-api/carol@${HOST}`),
      ],
      { people },
    );
    const one = startRedemptionSync(options);
    try {
      await one.pass();
      assert.deepEqual(told, [`${HOST} bob@${HOST} u2@${HOST}`, `${HOST} carol@${HOST} u3@${HOST}`]);
    } finally {
      await one.stop();
    }
  });

  it("a message that cannot go is logged (no JID) and the records are counted all the same", async () => {
    const records = [record(1, `invites-api/alice@${HOST}`), record(2, `invites-api/alice@${HOST}`)];
    const { options, ledger, log } = sync(records, { fail: true });
    const one = startRedemptionSync(options);
    try {
      await one.pass();
      assert.equal(await ledger.redemptionCursor(HOST), records.at(-1)?.cursor);
      assert.match(log(), /cannot tell an inviter of a registration/);
      assert.ok(!log().includes("alice"), log());
    } finally {
      await one.stop();
    }
  });

  it("the message, through a MessageSender", async () => {
    const sent: string[] = [];
    await notifyInviterBy({ send: async (to, body) => void sent.push(`${to}: ${body}`) })(
      HOST,
      `alice@${HOST}`,
      `u1@${HOST}`,
    );
    assert.deepEqual(sent, [`alice@${HOST}: u1@${HOST} joined with your invite.`]);
    assert.equal(joinedMessage("x@y"), "x@y joined with your invite.");
    assert.equal(inviterOf(HOST, record(1, `invites-api/alice@${HOST}/phone`)), undefined, "a full JID");
  });
});
