import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { ComponentConnection } from "../../src/xmpp/connection.js";
import type { InviteManager, RedemptionRecord } from "../../src/xmpp/inviteManager.js";
import { connectModuleClients } from "../support/moduleClients.js";
import { MANAGE_MODULES, startProsody, type RunningProsody } from "../support/prosody.js";
import { login, registerWithInvite } from "../support/xmppClient.js";
import { startReceiver, type Receiver } from "../support/receiver.js";
import { runCli } from "../support/service.js";
import { createKey, startStack, type RunningStack } from "../support/stack.js";
import type { InviteJson } from "../../src/http/apiTypes.js";

// An `expired` record in the feed for every invite the service made that expires unused (issue 30):
// 1,000 expiring in the same minute give 1,000 records, none twice, also with Prosody down when
// they expire and a sweep made again over the same range (as after a kill between writing the
// records and storing how far it swept); and how long after its expiry each record can be read.
const HOST = "expiry.test";
const COMPONENT = { domain: "invites.expiry.test", secret: "expiry-component-secret" };
const MANAGE = "xmpp:invites-api/mod_invites_manage#";
const BATCH = 1_000;
/** mod_invites_manage's default invites_manage_expiry_sweep, which the test leaves as it is. */
const SWEEP_SECONDS = 15;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => Date.now() / 1_000;

describe("expired records in the feed, against a real Prosody", () => {
  let prosody: RunningProsody | undefined;
  let connection: ComponentConnection | undefined;
  let manager: InviteManager;
  let cursor: string | undefined;

  before(async () => {
    prosody = await startProsody({
      hosts: [HOST],
      components: [COMPONENT],
      admins: [],
      hostOptions: { [HOST]: { modules: MANAGE_MODULES, admins: [`root@${HOST}`] } },
      extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
      logLevel: "info",
    });
    prosody.ctl(["register", "root", HOST, "root-password-1"]);
    ({ connection, manager } = await connectModuleClients(prosody, COMPONENT));
  });
  after(async () => {
    await connection?.stop();
    await prosody?.dispose();
  });

  /** The feed's records after the cursor, with kinds, read to the end. */
  async function readFeed(): Promise<RedemptionRecord[]> {
    const records: RedemptionRecord[] = [];
    for (;;) {
      const page = await manager.redemptions(HOST, { after: cursor, max: 200, kinds: true });
      records.push(...page.records);
      cursor = page.next ?? cursor;
      if (!page.more) return records;
    }
  }

  /** `count` account invites all expiring at `at` (Unix seconds), made 25 at a time. */
  async function inviteBatch(count: number, at: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 25) {
      const made = await Promise.all(
        Array.from({ length: Math.min(25, count - i) }, () =>
          manager.createAccount(HOST, { ttl: Math.max(1, Math.round(at - now())), source: "invites-api/expiry" }),
        ),
      );
      ids.push(...made.map((invite) => invite.id));
    }
    return ids;
  }

  /** Reads the feed until every id of `ids` has an expired record or the deadline; each id's records and when first seen. */
  async function collect(ids: readonly string[], deadline: number, onRead?: (seen: number) => Promise<void>) {
    const wanted = new Set(ids);
    const records = new Map<string, RedemptionRecord[]>();
    const seenAt = new Map<string, number>();
    const others: RedemptionRecord[] = [];
    while (Date.now() < deadline && seenAt.size < wanted.size) {
      let batch: RedemptionRecord[] = [];
      try {
        batch = await readFeed();
      } catch {
        // Prosody is down (the test killed it): read again once it is back.
      }
      for (const record of batch) {
        if (record.kind !== "expired" || !wanted.has(record.id)) {
          others.push(record);
          continue;
        }
        records.set(record.id, [...(records.get(record.id) ?? []), record]);
        if (!seenAt.has(record.id)) seenAt.set(record.id, now());
      }
      await onRead?.(seenAt.size);
      await sleep(200);
    }
    return { records, seenAt, others };
  }

  it("1,000 invites expiring in the same minute: 1,000 expired records, none twice, none for others'", async () => {
    await readFeed();
    // 45 s: room to make 1,000 invites (and the three below) on a busy machine, at ~25 a second or
    // more, before they all expire together.
    const at = Math.ceil(now()) + 45;
    const ids = await inviteBatch(BATCH, at);
    assert.ok(now() < at - 5, "the invites took too long to make");
    // Neither a used invite, nor a revoked one, nor an admin's own expires as the service's.
    const used = await manager.createAccount(HOST, { ttl: Math.round(at - now()), source: "invites-api/expiry" });
    await registerWithInvite({
      port: prosody?.c2sPort ?? 0,
      domain: HOST,
      token: used.id,
      username: "user1",
      password: "user1-password-1",
    });
    const revoked = await manager.createAccount(HOST, { ttl: Math.round(at - now()), source: "invites-api/expiry" });
    await manager.revoke(HOST, revoked.id);
    const root = await login({
      port: prosody?.c2sPort ?? 0,
      domain: HOST,
      username: "root",
      password: "root-password-1",
    });
    const own = await root.execute(HOST, `${MANAGE}create-account`, { ttl: String(Math.round(at - now())) });
    await root.close();
    const ownId = own.fields.get("id")?.[0] ?? "";

    const { records, seenAt, others } = await collect(ids, (at + 4 * SWEEP_SECONDS) * 1_000);
    assert.equal(seenAt.size, BATCH);
    for (const [id, list] of records) {
      assert.equal(list.length, 1, `${id} twice`);
      // Each ttl was rounded to a whole second when it was made.
      assert.ok(Math.abs((list[0]?.at ?? 0) - at) <= 1, `${list[0]?.at} for ${at}`);
      assert.equal(list[0]?.source, "invites-api/expiry");
    }
    const latencies = [...seenAt.values()].map((seen) => seen - at).sort((a, b) => a - b);
    const median = latencies[Math.floor(latencies.length / 2)] ?? 0;
    const last = latencies.at(-1) ?? 0;
    console.log(
      `expired records for ${BATCH} invites: read ${median.toFixed(1)} s after expiry (median), ${last.toFixed(1)} s (last); sweep every ${SWEEP_SECONDS} s`,
    );
    assert.ok(last <= 60, `the last record came ${last} s after expiry`);
    console.log(/Expired invites: \d+ events in [\d.]+ s of CPU/.exec(prosody?.log() ?? "")?.[0]);
    // A sweep later: nothing more, and nothing for the used, revoked or admin's invite.
    await sleep((SWEEP_SECONDS + 2) * 1_000);
    const later = [...others, ...(await readFeed())].filter((r) => r.kind === "expired");
    assert.deepEqual(
      later.map((r) => r.id),
      [],
    );
    for (const id of [used.id, revoked.id, ownId]) assert.equal(records.has(id), false);
  });

  it("Prosody down when they expire, then a sweep made again: still exactly 1,000", async () => {
    await readFeed();
    const at = Math.ceil(now()) + 20;
    const ids = await inviteBatch(BATCH, at);
    await sleep((at - 3 - now()) * 1_000);
    await prosody?.kill("SIGKILL");
    await sleep((at + 5 - now()) * 1_000);
    const startedAt = now();
    await prosody?.start();
    const { records, seenAt } = await collect(ids, (at + 4 * SWEEP_SECONDS) * 1_000);
    const last = Math.max(...seenAt.values()) - startedAt;
    console.log(
      `Prosody down while ${BATCH} invites expired: all ${seenAt.size} records read ${last.toFixed(1)} s after its start`,
    );
    assert.equal(seenAt.size, BATCH);
    for (const [id, list] of records) assert.equal(list.length, 1, `${id} twice`);
    // As if Prosody had been killed after writing the records and before storing how far it swept:
    // the next sweep reads the same range again, and must write none of them twice. The cursor
    // first moves to a registration's record (a record written again would come after it).
    const marker = await manager.createAccount(HOST, { ttl: 600, source: "invites-api/expiry" });
    await registerWithInvite({
      port: prosody?.c2sPort ?? 0,
      domain: HOST,
      token: marker.id,
      username: "marker1",
      password: "marker1-password-1",
    });
    await sleep(500);
    assert.deepEqual(
      (await readFeed()).map((r) => r.jid),
      [`marker1@${HOST}`],
    );
    await prosody?.kill("SIGKILL");
    const db = new DatabaseSync(join(prosody?.dataDir ?? "", "prosody.sqlite"));
    const moved = db
      .prepare("UPDATE prosody SET value = ? WHERE host = ? AND store = 'invites_manage_expiry' AND key = 'to'")
      .run(String(at - 60), HOST);
    db.close();
    assert.equal(moved.changes, 1);
    await prosody?.start();
    await sleep((SWEEP_SECONDS + 2) * 1_000);
    const again = (await readFeed()).filter((r) => r.kind === "expired");
    assert.deepEqual(
      again.map((r) => r.id),
      [],
    );
  });
});

// The sweep that wrote expired records nudges the service (as a registration does), so that an
// invite.expired webhook follows within the sweep and the nudge's gap, not at the service's next
// pass: here REDEMPTION_SYNC_MS is at its maximum (a day), every other setting its default.
describe("invite.expired webhooks follow the sweep, not the service's next pass", () => {
  let stack: RunningStack | undefined;
  let receiver: Receiver | undefined;
  before(async () => {
    stack = await startStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: MANAGE_MODULES } },
        extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
        logLevel: "info",
      },
      { component: COMPONENT, env: { REDEMPTION_SYNC_MS: String(86_400_000) } },
    );
    receiver = await startReceiver();
  });
  after(async () => {
    await stack?.stop();
    await receiver?.stop();
  });

  it("each of 4 invites expiring a few seconds apart: its invite.expired within the sweep and 5 s; one nudge per sweep", async () => {
    assert.ok(stack && receiver);
    const { service, prosody, keyStore } = stack;
    const key = await createKey(keyStore, HOST, "expiry", "--scope", "manage");
    const added = await runCli(["webhook", "add", HOST, receiver.url, "--allow-http", "--allow-private"], {
      KEY_STORE: keyStore,
    });
    assert.equal(added.code, 0, added.stderr);
    const make = async (ttl: number) => {
      const res = await fetch(`${service.url}/invites/account`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ ttl }),
      });
      assert.equal(res.status, 201, await res.clone().text());
      return (await res.json()) as InviteJson;
    };
    // Two expiring in the same second (one sweep, one nudge), two more a few seconds apart.
    const invites = await Promise.all([3, 3, 7, 12].map(make));
    const expiredAt = new Map(invites.map((invite) => [invite.id, invite.expires]));
    const arrived = new Map<string, number>();
    await receiver.until(
      (received) => {
        for (const r of received) {
          const event = JSON.parse(r.body) as { type: string; data: { invite?: string } };
          const id = event.data.invite ?? "";
          if (event.type === "invite.expired" && expiredAt.has(id) && !arrived.has(id)) arrived.set(id, now());
        }
        return arrived.size === invites.length;
      },
      (12 + SWEEP_SECONDS + 10) * 1_000,
    );
    const latencies = invites.map((invite) => (arrived.get(invite.id) ?? Infinity) - invite.expires);
    console.log(
      `invite.expired after expiry, sweep every ${SWEEP_SECONDS} s, REDEMPTION_SYNC_MS a day: ${latencies.map((l) => l.toFixed(1)).join(", ")} s`,
    );
    for (const latency of latencies) assert.ok(latency <= SWEEP_SECONDS + 5, `${latency} s after expiry`);
    // Once per sweep that wrote records: the sweeps that wrote were at most as many as the invites.
    const sweeps = prosody.log().match(/Expired invites: \d+ events/g) ?? [];
    assert.ok(sweeps.length >= 1 && sweeps.length <= invites.length, sweeps.join("; "));
  });
});
