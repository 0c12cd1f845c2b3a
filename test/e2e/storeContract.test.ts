import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { after, afterEach, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@keyv/redis";
import pg from "pg";
import { openStore } from "../../src/store/open.js";
import type { ServiceStore } from "../../src/store/store.js";
import { openMemory } from "../../src/store/memory/index.js";
import type { RedemptionBatch, Usage } from "../../src/store/usage.js";
import type { Delivery, Subscription } from "../../src/store/webhooks.js";
import { startPostgres, startRedis, type RunningServer } from "../support/servers.js";
import { freshKeyStore } from "../support/stack.js";
import { createKeyStore, type KeyRecord } from "../../src/keys/keyStore.js";
import { updateRecord } from "../../src/keys/recordUpdate.js";
import { rotateSubscription } from "../../src/webhooks/rotation.js";

/**
 * One contract for every store backend (src/store/): the webhook outbox (enqueue, claim under a lease, lease
 * expiry, retry, delivery, cascade on delete), the usage counters and the redemption ledger. Each
 * case runs on two handles of one empty store, opened as the service opens them (openStore
 * from a KEY_STORE), as two instances would hold them; real Redis and PostgreSQL are started here.
 * The memory store lives in one process: its two handles are the one store.
 */

/** What the service uses of a backend here: the outbox, the usage counters, the ledger, idempotency entries, key records. */
type Store = Pick<ServiceStore, "webhooks" | "usage" | "ledger" | "idempotency" | "keyRecords" | "keyRows">;

interface Pair {
  readonly a: Store;
  readonly b: Store;
  close(): Promise<void>;
}

interface Backend {
  /** Two handles on one store that is empty. */
  open(): Promise<Pair>;
  dispose(): Promise<void>;
}

/** Opens two backends on one store; closes what was opened if the second fails. */
async function openPair(url: string, cleanUp: () => Promise<void> = async () => {}): Promise<Pair> {
  const opened: ServiceStore[] = [];
  const close = async () => {
    await Promise.allSettled(opened.map((backend) => backend.close()));
    await cleanUp();
  };
  try {
    opened.push(await openStore(url));
    opened.push(await openStore(url));
  } catch (err) {
    await close();
    throw err;
  }
  const [a, b] = opened as [ServiceStore, ServiceStore];
  return { a, b, close };
}

const kinds: ReadonlyArray<{ readonly name: string; start(): Promise<Backend> }> = [
  {
    name: "memory",
    start: async () => ({
      open: async () => {
        const store = openMemory();
        return { a: store, b: store, close: () => store.close() };
      },
      dispose: async () => {},
    }),
  },
  {
    name: "sqlite",
    start: async () => ({
      open: () => {
        const path = freshKeyStore();
        return openPair(path, async () => rmSync(dirname(path), { recursive: true, force: true }));
      },
      dispose: async () => {},
    }),
  },
  {
    name: "redis",
    start: async () => {
      const server: RunningServer = await startRedis();
      return {
        open: async () => {
          const admin = createClient({ url: server.url });
          await admin.connect();
          try {
            await admin.flushAll();
          } finally {
            await admin.quit();
          }
          return openPair(server.url);
        },
        dispose: () => server.dispose(),
      };
    },
  },
  {
    name: "postgres",
    start: async () => {
      const server: RunningServer = await startPostgres();
      let made = 0;
      return {
        // A database of its own for each case, on the one server.
        open: async () => {
          const name = `contract_${(made += 1)}`;
          const admin = new pg.Client({ connectionString: server.url });
          await admin.connect();
          try {
            // FILE_COPY: a few times faster than the default WAL_LOG for a database this small.
            await admin.query(`CREATE DATABASE ${name} STRATEGY FILE_COPY`);
          } finally {
            await admin.end();
          }
          return openPair(server.url.replace(/\/postgres$/, `/${name}`));
        },
        dispose: () => server.dispose(),
      };
    },
  },
];

// The outbox's clock is the `now` each call is given: time passes only when a case says so.
const T = Date.UTC(2026, 5, 1);
const LEASE_MS = 60_000;
const HOST = "contract.example.test";

const subscription = (id: string): Subscription => ({
  id,
  host: HOST,
  url: "https://hooks.example/in",
  events: ["invite.created", "invite.redeemed"],
  allowHttp: false,
  allowPrivate: false,
  secret: `whsec_${Buffer.alloc(32, 7).toString("base64")}`,
  createdAt: "2026-06-01T00:00:00.000Z",
});

const delivery = (id: string, subscriptionId: string, createdAt = T - 1_000): Delivery => ({
  id,
  subscriptionId,
  payload: JSON.stringify({ type: "invite.created", id }),
  createdAt,
  attempts: 0,
});

const byId = (deliveries: readonly Delivery[]): Delivery[] => [...deliveries].sort((x, y) => x.id.localeCompare(y.id));
const idsOf = (deliveries: readonly Delivery[]): string[] => byId(deliveries).map((d) => d.id);
const iso = (ms: number) => new Date(ms).toISOString();
const minute = (n: number) => iso(Date.UTC(2026, 0, 1, 0, n));

/** A key's usage as one handle reads it; accountsRegistered is 0 where the backend leaves it out. */
async function usageOf(store: Store, id: string): Promise<Usage | undefined> {
  const usage = (await store.usage.read([id])).get(id);
  return usage && { ...usage, accountsRegistered: usage.accountsRegistered ?? 0 };
}

const totalsOf = async (store: Store, host: string) =>
  (await store.ledger.redemptionTotals()).find((t) => t.host === host);

function contract(backend: () => Promise<Backend>): void {
  let pair: Pair | undefined;
  beforeEach(async () => {
    pair = await (await backend()).open();
  });
  afterEach(async () => {
    await pair?.close();
    pair = undefined;
  });
  const handles = () => pair as Pair;

  describe("key records and subscriptions, changed by compare-and-set (rotation)", () => {
    const record = (id: string, name = "0"): KeyRecord => ({
      id,
      host: HOST,
      name,
      createdAt: "2026-06-01T00:00:00.000Z",
      methods: ["GET", "POST"],
      scopes: ["create"],
      secretHash: "0".repeat(64),
    });
    const keysOf = (store: Store) => createKeyStore(store.keyRecords, store.usage, { rows: store.keyRows });

    it("a key row is replaced only while it holds what was read: not after another write, never once deleted", async () => {
      const { a, b } = handles();
      assert.equal(await a.keyRows.read("key:nokey123"), undefined);
      await a.keyRecords.set("key:K1", record("K1"));
      const row = (await b.keyRows.read("key:K1")) as string;
      assert.deepEqual((await b.keyRecords.deserializeData<KeyRecord>(row))?.value, record("K1"));
      const next = (await b.keyRecords.serializeData({ value: record("K1", "next") })) as string;
      assert.equal(await a.keyRows.replace("key:K1", `${row} `, next), false);
      assert.deepEqual(await b.keyRecords.get("key:K1"), record("K1"));
      assert.equal(await a.keyRows.replace("key:K1", row, next), true);
      // keyv reads what replace wrote, from the other handle too.
      assert.deepEqual(await b.keyRecords.get("key:K1"), record("K1", "next"));
      assert.equal(await b.keyRows.replace("key:K1", row, row), false, "the row read before is stale now");
      await a.keyRecords.delete("key:K1");
      assert.equal(await b.keyRows.replace("key:K1", next, row), false);
      assert.equal(await a.keyRecords.get("key:K1"), undefined, "a deleted key stays deleted");
    });

    it("10 updates at once over two handles all land: none lost to another", async () => {
      const { a, b } = handles();
      await a.keyRecords.set("key:K2", record("K2"));
      const bump = (store: Store) =>
        updateRecord(store.keyRecords, store.keyRows, "key:K2", (r) => ({ ...r, name: String(Number(r.name) + 1) }));
      await Promise.all(Array.from({ length: 10 }, (_, i) => bump(i % 2 ? a : b)));
      assert.equal((await b.keyRecords.get<KeyRecord>("key:K2"))?.name, "10");
    });

    it("a key rotated while it is deleted stays deleted, its counter too (10 rounds)", async () => {
      const { a, b } = handles();
      for (let round = 0; round < 10; round += 1) {
        const { info } = await keysOf(a).create(HOST, { name: `r${round}` });
        const [rotated] = await Promise.allSettled([
          keysOf(b).rotate(HOST, info.id, 60_000),
          keysOf(a).delete(HOST, info.id),
        ]);
        assert.ok(rotated.status === "fulfilled" || /no key/.test(String(rotated.reason)), String(rotated));
        assert.equal(await b.keyRecords.get(`key:${info.id}`), undefined);
        assert.equal(await keysOf(a).get(HOST, info.id), undefined);
      }
    });

    it("a rotation keeps the key's options and usage; both secrets open it from either handle", async () => {
      const { a, b } = handles();
      const { info, key } = await keysOf(a).create(HOST, { name: "kept", maxInvites: 5, scopes: ["create", "reset"] });
      assert.equal(await keysOf(a).reserveInvite(info.id, 5, new Date()), "reserved");
      const rotated = await keysOf(b).rotate(HOST, info.id, 60_000);
      const [id, oldSecret] = key.split("/") as [string, string];
      const newSecret = rotated.key.split("/")[1] as string;
      assert.equal(rotated.key.split("/")[0], id);
      for (const store of [a, b]) {
        const shown = await keysOf(store).get(HOST, id);
        assert.equal(shown?.name, "kept");
        assert.equal(shown?.maxInvites, 5);
        assert.deepEqual(shown?.scopes, ["create", "reset"]);
        assert.equal(shown?.invitesIssued, 1);
        assert.equal(shown?.previousSecretUntil, rotated.info.previousSecretUntil);
        assert.ok(await keysOf(store).verify({ id, secret: oldSecret }), "the old secret, in its grace");
        assert.ok(await keysOf(store).verify({ id, secret: newSecret }), "the new secret");
      }
      await keysOf(a).rotate(HOST, id, 0);
      assert.equal(await keysOf(b).verify({ id, secret: oldSecret }), undefined);
      assert.equal(await keysOf(b).verify({ id, secret: newSecret }), undefined);
      assert.equal((await keysOf(b).get(HOST, id))?.invitesIssued, 1);
    });

    it("a subscription is replaced only while it holds what was read; a deleted one stays deleted", async () => {
      const { a, b } = handles();
      assert.equal(await a.webhooks.subscriptionRecord("none"), undefined);
      await a.webhooks.addSubscription(subscription("s1"));
      const record = (await b.webhooks.subscriptionRecord("s1")) as string;
      assert.deepEqual(JSON.parse(record), subscription("s1"));
      const next = JSON.stringify({ ...subscription("s1"), secret: "whsec_next" });
      assert.equal(await a.webhooks.replaceSubscription("s1", `${record} `, next), false);
      assert.equal(await a.webhooks.replaceSubscription("s1", record, next), true);
      assert.equal((await b.webhooks.listSubscriptions(HOST))[0]?.secret, "whsec_next");
      assert.equal(await b.webhooks.replaceSubscription("s1", record, record), false);
      await a.webhooks.deleteSubscription("s1");
      assert.equal(await b.webhooks.replaceSubscription("s1", next, record), false);
      assert.deepEqual(await a.webhooks.listSubscriptions(), []);
    });

    it("10 rotations of one subscription at once over two handles form one chain: none lost", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s2"));
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => rotateSubscription((i % 2 ? a : b).webhooks, HOST, "s2", 60_000)),
      );
      // Each rotation replaced the secret the one before it made: following them from the first
      // secret visits all ten and ends at the stored one.
      const after = new Map(results.map((r) => [r?.subscription.previousSecret, r?.secret]));
      let secret: string | undefined = subscription("s2").secret;
      for (let step = 0; step < 10; step += 1) secret = after.get(secret);
      const stored = (await b.webhooks.listSubscriptions(HOST)).find((s) => s.id === "s2");
      assert.equal(stored?.secret, secret);
      assert.ok(secret);
      assert.equal(await rotateSubscription(a.webhooks, "other.example", "s2", 0), undefined, "another host's");
    });
  });

  describe("webhook outbox", () => {
    it("enqueue queues each delivery once, due at once, only for a subscription that exists", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s1"));
      const d1 = delivery("d1", "s1", T - 3_000);
      const d2 = delivery("d2", "s1", T - 2_000);
      await a.webhooks.enqueue([d1, d2, delivery("d0", "no-such-subscription")]);
      // Queued again through the other handle, with another body: the first one stays.
      await b.webhooks.enqueue([{ ...d1, payload: "changed", createdAt: T }]);
      await b.webhooks.enqueue([]);
      assert.deepEqual(await b.webhooks.backlog(), { count: 2, oldestAt: T - 3_000 });
      assert.deepEqual((await a.webhooks.status(["s1"])).get("s1"), { backlog: 2, oldestAt: T - 3_000 });
      assert.deepEqual(byId(await b.webhooks.claim(T, LEASE_MS, 10)), [d1, d2]);
    });

    it("a claimed delivery goes to one claimer only, however many claim at once from both handles", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s1"));
      const claimAtOnce = (now: number) =>
        Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).webhooks.claim(now, LEASE_MS, 2)));
      // Once on the empty outbox first: the pools open all their connections, so the claims overlap.
      assert.deepEqual((await claimAtOnce(T)).flat(), []);
      const queued: Delivery[] = [];
      const taken: Delivery[] = [];
      // Twenty times over: two claims that take the same delivery must first meet.
      for (let trial = 0; trial < 20; trial += 1) {
        const more = Array.from({ length: 24 }, (_, i) => delivery(`t${trial}-${String(i).padStart(2, "0")}`, "s1"));
        queued.push(...more);
        await b.webhooks.enqueue(more);
        for (let round = 0; round < 40; round += 1) {
          const claims = await claimAtOnce(T + 100 * trial + round);
          for (const claimed of claims) assert.ok(claimed.length <= 2, `a claim of at most 2 took ${claimed.length}`);
          if (claims.flat().length === 0) break;
          taken.push(...claims.flat());
        }
      }
      assert.deepEqual(idsOf(taken), idsOf(queued), "each delivery taken exactly once");
      // While the leases hold, neither handle gets any; they are still waiting.
      for (const store of [a, b]) assert.deepEqual(await store.webhooks.claim(T + LEASE_MS - 1, LEASE_MS, 100), []);
      assert.equal((await a.webhooks.backlog()).count, queued.length);
    });

    it("a lease that runs out makes the delivery due again for another handle, with its id and attempts", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s1"));
      const d1 = delivery("d1", "s1");
      await a.webhooks.enqueue([d1]);
      assert.deepEqual(await a.webhooks.claim(T, LEASE_MS, 10), [d1]);
      assert.deepEqual(await b.webhooks.claim(T + LEASE_MS - 1, LEASE_MS, 10), [], "taken while its lease held");
      assert.deepEqual(await b.webhooks.claim(T + LEASE_MS + 1, LEASE_MS, 10), [d1], "the lease never ran out");
      // Now the other handle holds it: the first, whose lease ran out, does not get it back.
      assert.deepEqual(await a.webhooks.claim(T + LEASE_MS + 2, LEASE_MS, 10), []);
      assert.deepEqual(await a.webhooks.claim(T + 2 * LEASE_MS + 2, LEASE_MS, 10), [d1]);
    });

    it("on the real clock, a 200 ms lease runs out and another handle takes the delivery", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s1"));
      const d1 = delivery("d1", "s1", Date.now());
      await a.webhooks.enqueue([d1]);
      const leasedAt = Date.now();
      assert.deepEqual(await a.webhooks.claim(leasedAt, 200, 10), [d1]);
      // Polled until a generous deadline: a loaded machine only makes the wait longer.
      const deadline = Date.now() + 15_000;
      let taken: Delivery[] = [];
      let takenAt = leasedAt;
      while (taken.length === 0 && Date.now() < deadline) {
        await sleep(25);
        takenAt = Date.now();
        taken = await b.webhooks.claim(takenAt, LEASE_MS, 10);
      }
      assert.deepEqual(taken, [d1], "the lease never ran out");
      assert.ok(takenAt - leasedAt >= 200, `taken ${takenAt - leasedAt} ms into a 200 ms lease`);
    });

    it("a failed delivery is due again at its retry time, not before, with its attempts counted; without one it is dropped", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s1"));
      const d1 = delivery("d1", "s1", T - 2_000);
      const d2 = delivery("d2", "s1", T - 3_000);
      await a.webhooks.enqueue([d1, d2]);
      assert.deepEqual(byId(await a.webhooks.claim(T, LEASE_MS, 10)), [d1, d2]);
      await a.webhooks.failed(d1, T + 10, "HTTP 500", T + 5_000);
      await a.webhooks.failed(d2, T + 11, "timed out", null);

      assert.deepEqual(await b.webhooks.claim(T + 4_999, LEASE_MS, 10), [], "due before its retry time");
      const retried = await b.webhooks.claim(T + 5_000, LEASE_MS, 10);
      assert.deepEqual(retried, [{ ...d1, attempts: 1 }]);
      await b.webhooks.failed(retried[0] as Delivery, T + 5_010, "HTTP 502", T + 9_000);
      assert.deepEqual(await a.webhooks.claim(T + 8_999, LEASE_MS, 10), []);
      assert.deepEqual(await a.webhooks.claim(T + 9_000, LEASE_MS, 10), [{ ...d1, attempts: 2 }]);

      // The one without a retry time is gone for good.
      assert.deepEqual(await b.webhooks.backlog(), { count: 1, oldestAt: d1.createdAt });
      assert.deepEqual((await b.webhooks.status(["s1"])).get("s1"), {
        lastFailureAt: iso(T + 5_010),
        lastError: "HTTP 502",
        backlog: 1,
        oldestAt: d1.createdAt,
      });
      assert.deepEqual(await b.webhooks.claim(T + 100 * LEASE_MS, LEASE_MS, 10), [{ ...d1, attempts: 2 }]);
    });

    it("a delivered one leaves the outbox for good, and the status says when", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s1"));
      const d1 = delivery("d1", "s1", T - 2_000);
      const d2 = delivery("d2", "s1", T - 1_000);
      await a.webhooks.enqueue([d1, d2]);
      assert.deepEqual(byId(await a.webhooks.claim(T, LEASE_MS, 10)), [d1, d2]);
      await a.webhooks.delivered(d1, T + 20);
      assert.deepEqual(await b.webhooks.backlog(), { count: 1, oldestAt: d2.createdAt });
      assert.deepEqual((await b.webhooks.status(["s1"])).get("s1"), {
        lastSuccessAt: iso(T + 20),
        backlog: 1,
        oldestAt: d2.createdAt,
      });
      assert.deepEqual(await b.webhooks.claim(T + 100 * LEASE_MS, LEASE_MS, 10), [d2]);
      await b.webhooks.delivered(d2, T + 100 * LEASE_MS + 5);
      assert.deepEqual(await a.webhooks.backlog(), { count: 0 });
      assert.deepEqual(await a.webhooks.claim(T + 1_000 * LEASE_MS, LEASE_MS, 10), []);
    });

    it("deleting a subscription deletes its waiting deliveries, a leased one too, and no one else's", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s1"));
      await a.webhooks.addSubscription(subscription("s2"));
      await a.webhooks.enqueue([delivery("d1", "s1"), delivery("d2", "s1"), delivery("d3", "s1")]);
      const [leased] = await a.webhooks.claim(T, LEASE_MS, 1);
      assert.ok(leased, "nothing claimed");
      const e1 = delivery("e1", "s2", T - 500);
      const e2 = delivery("e2", "s2", T - 400);
      await a.webhooks.enqueue([e1, e2]);

      assert.equal(await b.webhooks.deleteSubscription("s1"), true);
      assert.equal(await a.webhooks.deleteSubscription("s1"), false);
      assert.deepEqual(
        (await a.webhooks.listSubscriptions()).map((s) => s.id),
        ["s2"],
      );
      assert.deepEqual(await a.webhooks.backlog(), { count: 2, oldestAt: e1.createdAt });
      assert.equal((await a.webhooks.status(["s1"])).get("s1")?.backlog ?? 0, 0);
      assert.deepEqual(byId(await b.webhooks.claim(T + 10 * LEASE_MS, LEASE_MS, 10)), [e1, e2]);

      // The instance that held the lease reports back: the delivery does not come back. Nothing
      // is queued for the subscription any more, nor brought back when its id is used again.
      await a.webhooks.failed(leased, T + 30, "HTTP 500", T + 40);
      await b.webhooks.enqueue([delivery("d4", "s1")]);
      await b.webhooks.addSubscription(subscription("s1"));
      assert.deepEqual(await a.webhooks.backlog(), { count: 2, oldestAt: e1.createdAt });
      assert.deepEqual(await a.webhooks.claim(T + 10 * LEASE_MS + 1, LEASE_MS, 10), []);
      // Nor is the deleted one's status: the report came after the delete.
      assert.deepEqual((await a.webhooks.status(["s1"])).get("s1"), { backlog: 0 });
    });
    it("a fair claim gives each subscription its turn and no more than its room: a long queue of one never fills it", async () => {
      const { a, b } = handles();
      for (const id of ["dead", "live1", "live2"]) await a.webhooks.addSubscription(subscription(id));
      const queue = (sub: string, n: number) => Array.from({ length: n }, (_, i) => delivery(`${sub}-${i}`, sub));
      // The dead receiver's deliveries were queued first, and there are many.
      await a.webhooks.enqueue(queue("dead", 20));
      await a.webhooks.enqueue([...queue("live1", 3), ...queue("live2", 3)]);
      const fair = (inFlight: Record<string, number>) => ({
        perSubscription: 2,
        inFlight: new Map(Object.entries(inFlight)),
      });
      const count = (taken: readonly Delivery[]) => {
        const by: Record<string, number> = {};
        for (const d of taken) by[d.subscriptionId] = (by[d.subscriptionId] ?? 0) + 1;
        return by;
      };
      // Every subscription's first before any one's second.
      assert.deepEqual(count(await b.webhooks.claim(T, LEASE_MS, 3, fair({}))), { dead: 1, live1: 1, live2: 1 });
      // The caller's deliveries under way count against each subscription's room.
      assert.deepEqual(count(await a.webhooks.claim(T, LEASE_MS, 10, fair({ dead: 1, live1: 1, live2: 1 }))), {
        dead: 1,
        live1: 1,
        live2: 1,
      });
      assert.deepEqual(await b.webhooks.claim(T, LEASE_MS, 10, fair({ dead: 2, live1: 2, live2: 2 })), []);
      // The live ones were delivered; the dead one's two still hang: only the live ones' last come.
      assert.deepEqual(count(await b.webhooks.claim(T, LEASE_MS, 10, fair({ dead: 2 }))), { live1: 1, live2: 1 });
      // Without `fair`, a claim takes what is due, whoever it is for.
      assert.deepEqual(count(await a.webhooks.claim(T, LEASE_MS, 100)), { dead: 18 });
    });

    it("the backlog's count and oldest stay right through enqueue, claim, retry, drop, delivery, a ledger batch and a cascade", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s1"));
      await a.webhooks.addSubscription(subscription("s2"));
      assert.deepEqual(await b.webhooks.backlog(), { count: 0 });
      const d = (i: number, sub = "s1") => delivery(`d${i}`, sub, T - 10_000 + i);
      await a.webhooks.enqueue([d(3), d(1), d(2), d(4, "s2"), d(5, "s2")]);
      // Queued again, and for a subscription that does not exist: not counted.
      await b.webhooks.enqueue([d(1), delivery("x", "no-such-subscription", T - 50_000)]);
      assert.deepEqual(await b.webhooks.backlog(), { count: 5, oldestAt: d(1).createdAt });
      const taken = await a.webhooks.claim(T, LEASE_MS, 10);
      assert.equal(taken.length, 5);
      assert.deepEqual(await b.webhooks.backlog(), { count: 5, oldestAt: d(1).createdAt }, "a leased one still waits");
      await a.webhooks.failed(d(1), T + 1, "HTTP 500", T + 1_000);
      assert.deepEqual(await b.webhooks.backlog(), { count: 5, oldestAt: d(1).createdAt }, "a retried one still waits");
      await a.webhooks.failed(d(1), T + 2, "HTTP 500", null);
      assert.deepEqual(await b.webhooks.backlog(), { count: 4, oldestAt: d(2).createdAt }, "a dropped one is gone");
      await b.webhooks.delivered(d(2), T + 3);
      assert.deepEqual(await a.webhooks.backlog(), { count: 3, oldestAt: d(3).createdAt });
      // Queued in the ledger's own transaction.
      const ledger: RedemptionBatch = {
        host: HOST,
        from: null,
        to: "c1",
        accounts: new Map(),
        registrations: 1,
        resets: 0,
        deliveries: [delivery("r1", "s2", T - 20_000)],
      };
      assert.equal(await a.ledger.applyRedemptions(ledger), true);
      assert.deepEqual(await b.webhooks.backlog(), { count: 4, oldestAt: T - 20_000 });
      // The cascade takes s2's three (one leased, one from the ledger).
      assert.equal(await b.webhooks.deleteSubscription("s2"), true);
      assert.deepEqual(await a.webhooks.backlog(), { count: 1, oldestAt: d(3).createdAt });
      await a.webhooks.delivered(d(3), T + 4);
      assert.deepEqual(await b.webhooks.backlog(), { count: 0 });
      // A late report of one the cascade took does not count it twice.
      await b.webhooks.delivered(d(4, "s2"), T + 5);
      await b.webhooks.failed(d(5, "s2"), T + 5, "HTTP 500", null);
      assert.deepEqual(await a.webhooks.backlog(), { count: 0 });
    });
  });

  describe("usage counters", () => {
    it("200 adds at once over two handles count 200", async () => {
      const { a, b } = handles();
      await a.usage.create("K1", { invitesIssued: 0 });
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).usage.add("K1", 1, minute(i % 60), undefined)),
      );
      assert.deepEqual(
        results.filter((r) => r !== "counted"),
        [],
      );
      for (const store of [a, b]) {
        const usage = await usageOf(store, "K1");
        assert.equal(usage?.invitesIssued, 200);
        assert.match(usage?.lastUsedAt ?? "", /^2026-01-01T00:\d\d:00\.000Z$/);
      }
    });

    it("a quota is exact under concurrency; invites given back count once each, never below zero", async () => {
      const { a, b } = handles();
      await a.usage.create("K1", { invitesIssued: 0 });
      const adds = (n: number) =>
        Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? a : b).usage.add("K1", 1, minute(1), 150)));
      const first = await adds(200);
      assert.equal(first.filter((r) => r === "counted").length, 150);
      assert.equal(first.filter((r) => r === "exhausted").length, 50);
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).usage.release("K1")));
      assert.equal((await usageOf(b, "K1"))?.invitesIssued, 110);
      const second = await adds(60);
      assert.equal(second.filter((r) => r === "counted").length, 40);
      assert.equal((await usageOf(a, "K1"))?.invitesIssued, 150);
      // A count that would pass the quota is refused whole.
      await b.usage.create("K2", { invitesIssued: 8 });
      assert.equal(await a.usage.add("K2", 3, minute(2), 10), "exhausted");
      assert.equal(await a.usage.add("K2", 2, minute(2), 10), "counted");
      await b.usage.create("K3", { invitesIssued: 1 });
      await Promise.all(Array.from({ length: 5 }, (_, i) => (i % 2 ? a : b).usage.release("K3")));
      assert.equal((await usageOf(a, "K3"))?.invitesIssued, 0);
    });

    it("adopt makes a counter only where there is none; reset starts one over; a removed one stays gone", async () => {
      const { a, b } = handles();
      assert.equal(await a.usage.add("K1", 1, minute(1), undefined), "missing");
      await a.usage.adopt("K1", { invitesIssued: 3, lastUsedAt: minute(1) });
      await b.usage.adopt("K1", { invitesIssued: 9 });
      assert.deepEqual(await usageOf(b, "K1"), { invitesIssued: 3, lastUsedAt: minute(1), accountsRegistered: 0 });
      const counted = (from: string | null, to: string): RedemptionBatch => ({
        host: HOST,
        from,
        to,
        accounts: new Map([["K1", { count: 2, lastAt: minute(5) }]]),
        registrations: 2,
        resets: 0,
        deliveries: [],
      });
      assert.equal(await a.ledger.applyRedemptions(counted(null, "c1")), true);
      assert.equal((await usageOf(b, "K1"))?.accountsRegistered, 2);

      // Reset: as a key written anew, accounts and times included.
      await b.usage.create("K1", { invitesIssued: 5 });
      assert.deepEqual(await usageOf(a, "K1"), { invitesIssued: 5, accountsRegistered: 0 });
      await a.usage.create("K2", { invitesIssued: 1 });
      assert.deepEqual([...(await b.usage.read(["K1", "nobody", "K2"])).keys()].sort(), ["K1", "K2"]);

      // Removed on one handle: the other counts nothing for it, nor makes it again.
      await b.usage.remove("K1");
      assert.equal(await usageOf(a, "K1"), undefined);
      assert.equal(await a.usage.add("K1", 1, minute(6), undefined), "missing");
      await a.usage.release("K1");
      assert.equal(await a.ledger.applyRedemptions(counted("c1", "c2")), true);
      for (const store of [a, b]) assert.equal(await usageOf(store, "K1"), undefined);
      assert.deepEqual(await usageOf(b, "K2"), { invitesIssued: 1, accountsRegistered: 0 });
    });
  });

  describe("redemption ledger", () => {
    /** Round `round` of a host's records, with a delivery of its own, read by an instance. */
    const roundBatch = (round: number): RedemptionBatch => ({
      host: HOST,
      from: round === 0 ? null : `c${round}`,
      to: `c${round + 1}`,
      accounts: new Map([
        ["K1", { count: 2, lastAt: minute(round) }],
        ["K2", { count: 1, lastAt: minute(round) }],
        ["gone", { count: 5, lastAt: minute(round) }],
      ]),
      registrations: 3,
      resets: 1,
      deliveries: [delivery(`r${String(round).padStart(2, "0")}`, "s1", T + round)],
    });

    it("the same batch from two handles at once is counted once, its deliveries queued once (10 rounds)", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s1"));
      await a.usage.create("K1", { invitesIssued: 0 });
      await b.usage.create("K2", { invitesIssued: 0 });
      const rounds = 10;
      for (let round = 0; round < rounds; round += 1) {
        // Equal batches, not one shared object; who asks first alternates.
        const [first, second] = round % 2 ? [a, b] : [b, a];
        const results = await Promise.all([
          first.ledger.applyRedemptions(roundBatch(round)),
          second.ledger.applyRedemptions(roundBatch(round)),
        ]);
        assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(results)}`);
      }
      for (const store of [a, b]) {
        assert.equal(await store.ledger.redemptionCursor(HOST), `c${rounds}`);
        assert.deepEqual(await usageOf(store, "K1"), {
          invitesIssued: 0,
          accountsRegistered: 2 * rounds,
          lastRegistrationAt: minute(rounds - 1),
        });
        assert.equal((await usageOf(store, "K2"))?.accountsRegistered, rounds);
        assert.equal(await usageOf(store, "gone"), undefined, "a key without a counter was given one");
        assert.deepEqual(await totalsOf(store, HOST), { host: HOST, registrations: 3 * rounds, resets: rounds });
      }
      const queued = await b.webhooks.claim(T + LEASE_MS, LEASE_MS, 100);
      assert.deepEqual(
        idsOf(queued),
        Array.from({ length: rounds }, (_, round) => roundBatch(round).deliveries[0]?.id),
      );
    });

    it("a batch is counted all together: cursor, totals, each key's accounts and latest time, its deliveries", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s1"));
      await a.usage.create("K1", { invitesIssued: 3, lastUsedAt: minute(0) });
      await a.usage.create("K2", { invitesIssued: 0 });
      const batch = (from: string | null, to: string, lastAt: string, ids: string[]): RedemptionBatch => ({
        host: HOST,
        from,
        to,
        accounts: new Map([
          ["K1", { count: 2, lastAt }],
          ["K2", { count: 1, lastAt }],
          ["gone", { count: 4, lastAt }],
        ]),
        registrations: 7,
        resets: 1,
        deliveries: ids.map((id) => delivery(id, "s1")),
      });
      assert.equal(await a.ledger.applyRedemptions(batch(null, "c1", minute(5), ["r1", "r2"])), true);
      assert.equal(await b.ledger.redemptionCursor(HOST), "c1");
      assert.deepEqual(await totalsOf(b, HOST), { host: HOST, registrations: 7, resets: 1 });
      assert.deepEqual(await usageOf(b, "K1"), {
        invitesIssued: 3,
        lastUsedAt: minute(0),
        accountsRegistered: 2,
        lastRegistrationAt: minute(5),
      });
      assert.deepEqual(await usageOf(b, "K2"), {
        invitesIssued: 0,
        accountsRegistered: 1,
        lastRegistrationAt: minute(5),
      });
      assert.equal(await usageOf(b, "gone"), undefined);
      assert.deepEqual(idsOf(await b.webhooks.claim(T, LEASE_MS, 10)), ["r1", "r2"]);

      // A later batch whose last registration is older than the one kept: counted, the time kept.
      assert.equal(await b.ledger.applyRedemptions(batch("c1", "c2", minute(3), ["r3"])), true);
      assert.deepEqual(await usageOf(a, "K1"), {
        invitesIssued: 3,
        lastUsedAt: minute(0),
        accountsRegistered: 4,
        lastRegistrationAt: minute(5),
      });
      assert.deepEqual(await totalsOf(a, HOST), { host: HOST, registrations: 14, resets: 2 });
      assert.deepEqual(idsOf(await a.webhooks.claim(T, LEASE_MS, 10)), ["r3"]);
      // Each host has its own cursor and totals.
      assert.equal(await a.ledger.redemptionCursor("other.example.test"), null);
      assert.equal(await totalsOf(a, "other.example.test"), undefined);
    });

    it("an older, missing or unknown cursor is refused and changes nothing: no count, no delivery, the cursor kept", async () => {
      const { a, b } = handles();
      await a.webhooks.addSubscription(subscription("s1"));
      await a.usage.create("K1", { invitesIssued: 0 });
      const batch = (from: string | null, to: string, count: number, id: string): RedemptionBatch => ({
        host: HOST,
        from,
        to,
        accounts: new Map([["K1", { count, lastAt: minute(count) }]]),
        registrations: count,
        resets: count,
        deliveries: [delivery(id, "s1")],
      });
      assert.equal(await a.ledger.applyRedemptions(batch(null, "s1", 1, "r1")), true);
      assert.equal(await b.ledger.applyRedemptions(batch("s1", "s2", 2, "r2")), true);
      const state = async (store: Store) => ({
        cursor: await store.ledger.redemptionCursor(HOST),
        totals: await totalsOf(store, HOST),
        usage: await usageOf(store, "K1"),
        backlog: await store.webhooks.backlog(),
      });
      const kept = await state(a);
      assert.deepEqual(kept.usage, { invitesIssued: 0, accountsRegistered: 3, lastRegistrationAt: minute(2) });
      assert.equal(kept.backlog.count, 2);

      // An instance that read from an older cursor (or none, or one never stored) counted records
      // already counted: refused on either handle, and nothing of it is kept.
      for (const from of ["s1", null, "s0", "s3"]) {
        for (const store of [a, b]) {
          const stale = batch(from, "s9", 50, `stale-${String(from)}`);
          assert.equal(await store.ledger.applyRedemptions(stale), false, `from ${String(from)} was applied`);
        }
      }
      assert.deepEqual(await state(a), kept);
      assert.deepEqual(await state(b), kept);
      assert.deepEqual(idsOf(await b.webhooks.claim(T, LEASE_MS, 10)), ["r1", "r2"]);

      // A host with no cursor yet refuses a batch read after one.
      const unknown = "unknown.example.test";
      assert.equal(await a.ledger.applyRedemptions({ ...batch("s2", "s9", 1, "u1"), host: unknown }), false);
      assert.equal(await b.ledger.redemptionCursor(unknown), null);
      const unknownTotals = await totalsOf(b, unknown);
      if (unknownTotals) assert.deepEqual(unknownTotals, { host: unknown, registrations: 0, resets: 0 });

      // The next batch from where the cursor is still goes on.
      assert.equal(await b.ledger.applyRedemptions(batch("s2", "s3", 4, "r3")), true);
      assert.equal(await a.ledger.redemptionCursor(HOST), "s3");
      assert.equal((await usageOf(a, "K1"))?.accountsRegistered, 7);
    });

    it("a batch of no record moves the cursor past records the service may not see, with the same compare", async () => {
      const { a, b } = handles();
      await a.usage.create("K1", { invitesIssued: 0 });
      const empty = (from: string | null, to: string): RedemptionBatch => ({
        host: HOST,
        from,
        to,
        accounts: new Map(),
        registrations: 0,
        resets: 0,
        deliveries: [],
      });
      // The host's first batch, and two handles moving it at once: one wins.
      assert.equal(await a.ledger.applyRedemptions(empty(null, "e1")), true);
      const results = await Promise.all([
        b.ledger.applyRedemptions(empty("e1", "e2")),
        a.ledger.applyRedemptions(empty("e1", "e2")),
      ]);
      assert.equal(results.filter(Boolean).length, 1, JSON.stringify(results));
      // Stale: refused, the cursor kept.
      assert.equal(await b.ledger.applyRedemptions(empty("e1", "e9")), false);
      assert.equal(await b.ledger.applyRedemptions(empty(null, "e9")), false);
      for (const store of [a, b]) assert.equal(await store.ledger.redemptionCursor(HOST), "e2");
      assert.deepEqual(await totalsOf(a, HOST), { host: HOST, registrations: 0, resets: 0 });
      assert.deepEqual(await usageOf(b, "K1"), { invitesIssued: 0, accountsRegistered: 0 });
      assert.equal((await b.webhooks.backlog()).count, 0);
    });
  });

  describe("idempotency entries", () => {
    const answer = { status: 201, headers: { location: "/invites/tok1" }, body: '{"id":"tok1"}' };
    const entry = (owner: string, expiresAt = Date.now() + 60_000) => ({ fingerprint: "f1", owner, expiresAt });

    it("of 20 claims of one key at once over two handles, one takes it; the others get its entry", async () => {
      const { a, b } = handles();
      const now = Date.now();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).idempotency.claim("k1", entry(`o${i}`), now)),
      );
      const winners = results.flatMap((found, i) => (found ? [] : [`o${i}`]));
      assert.equal(winners.length, 1, JSON.stringify(results));
      for (const found of results.filter(Boolean)) {
        assert.equal(found?.owner, winners[0]);
        assert.equal(found?.fingerprint, "f1");
        assert.equal(found?.answer, undefined);
      }
    });

    it("only the owner completes or releases; the answer is read from the other handle; a released key is claimed again", async () => {
      const { a, b } = handles();
      const now = Date.now();
      assert.equal(await a.idempotency.claim("k2", entry("mine"), now), undefined);
      assert.equal(await b.idempotency.complete("k2", "theirs", answer, now + 86_400_000), false);
      await b.idempotency.release("k2", "theirs");
      assert.equal((await b.idempotency.read("k2", now))?.owner, "mine");
      assert.equal(await a.idempotency.complete("k2", "mine", answer, now + 86_400_000), true);
      const kept = await b.idempotency.read("k2", Date.now());
      assert.deepEqual(kept?.answer, answer);
      assert.equal(kept?.expiresAt, now + 86_400_000);
      // A completed key is not taken by a claim either.
      assert.deepEqual((await b.idempotency.claim("k2", entry("late"), Date.now()))?.answer, answer);
      assert.equal(await a.idempotency.claim("k3", entry("first"), now), undefined);
      await a.idempotency.release("k3", "first");
      assert.equal(await b.idempotency.read("k3", Date.now()), undefined);
      assert.equal(await b.idempotency.claim("k3", entry("second"), Date.now()), undefined);
      assert.equal((await a.idempotency.read("k3", Date.now()))?.owner, "second");
    });

    it("on the real clock, an entry past its time is gone: read misses it, a claim takes it", async () => {
      const { a, b } = handles();
      assert.equal(await a.idempotency.claim("k4", entry("old", Date.now() + 200), Date.now()), undefined);
      assert.equal((await b.idempotency.claim("k4", entry("early"), Date.now()))?.owner, "old");
      await sleep(400);
      assert.equal(await b.idempotency.read("k4", Date.now()), undefined);
      assert.equal(await b.idempotency.claim("k4", entry("new"), Date.now()), undefined);
      assert.equal((await a.idempotency.read("k4", Date.now()))?.owner, "new");
    });
  });
}

for (const kind of kinds) {
  describe(`store contract: ${kind.name}`, { timeout: 120_000 }, () => {
    // Started by the first case that runs: none when --test-name-pattern leaves this backend out.
    let started: Promise<Backend> | undefined;
    after(async () => {
      // A server that failed to start has stopped itself already (servers.ts).
      await (await started?.catch(() => undefined))?.dispose();
    });
    contract(() => (started ??= kind.start()));
  });
}
