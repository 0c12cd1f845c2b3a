import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { after, afterEach, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@keyv/redis";
import Database from "better-sqlite3";
import pg from "pg";
import { openMemory } from "../../src/store/memory/index.js";
import { openStore } from "../../src/store/open.js";
import { PEOPLE_NAMESPACE } from "../../src/store/people.js";
import type { ServiceStore } from "../../src/store/store.js";
import { startPostgres, startRedis, type RunningServer } from "../support/servers.js";
import { takeFromThreads } from "../support/quotaTakers.js";
import { freshKeyStore } from "../support/stack.js";

/**
 * The stores of people (issue 29) on every backend: quotas per person (QuotaStore), one-time values
 * (OneTimeStore) and the people's keyv. Each case runs on two handles of one empty store, opened as
 * two instances open it (openStore), against real Redis and PostgreSQL started here, as
 * storeContract.test.ts does; the memory store's two handles are the one store. Where the backend
 * can be looked into, a case also checks that what is past its time is gone, not only unseen.
 */

type Store = Pick<ServiceStore, "quotas" | "oneTime" | "people" | "keyRecords">;

/** What a backend holds, read past the store's code: rows of a quota's subject, a one-time id, a people key. */
interface Inside {
  count(kind: "quota" | "oneTime" | "people", name: string): Promise<number>;
}

interface Pair {
  readonly a: Store;
  readonly b: Store;
  /** None for the memory store. */
  readonly inside?: Inside;
  /** The store's KEY_STORE; none for the memory store. */
  readonly url?: string;
  close(): Promise<void>;
}

interface Backend {
  open(): Promise<Pair>;
  dispose(): Promise<void>;
}

async function openPair(url: string, inside: Inside & { close(): Promise<void> }): Promise<Pair> {
  const opened: ServiceStore[] = [];
  const close = async () => {
    await Promise.allSettled(opened.map((backend) => backend.close()));
    await inside.close();
  };
  try {
    opened.push(await openStore(url));
    opened.push(await openStore(url));
  } catch (err) {
    await close();
    throw err;
  }
  const [a, b] = opened as [ServiceStore, ServiceStore];
  return { a, b, inside, url, close };
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
      open: async () => {
        const path = freshKeyStore();
        let db: Database.Database | undefined;
        const looked = () => (db ??= new Database(path, { readonly: true }));
        const queries = {
          quota: "SELECT count(*) AS n FROM invites_api_quota_uses WHERE subject = ?",
          oneTime: "SELECT count(*) AS n FROM invites_api_one_time WHERE id = ?",
          people: `SELECT count(*) AS n FROM keyv WHERE key = '${PEOPLE_NAMESPACE}:' || ?`,
        };
        return openPair(path, {
          count: async (kind, name) => (looked().prepare(queries[kind]).get(name) as { n: number }).n,
          close: async () => {
            db?.close();
            rmSync(dirname(path), { recursive: true, force: true });
          },
        });
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
          await admin.flushAll();
          return openPair(server.url, {
            count: async (kind, name) => {
              if (kind === "quota") return admin.zCard(`invites-api:quota:${name}`);
              return admin.exists(kind === "oneTime" ? `invites-api:once:${name}` : `${PEOPLE_NAMESPACE}::${name}`);
            },
            close: async () => void (await admin.quit()),
          });
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
          const name = `people_${(made += 1)}`;
          const admin = new pg.Client({ connectionString: server.url });
          await admin.connect();
          try {
            await admin.query(`CREATE DATABASE ${name} STRATEGY FILE_COPY`);
          } finally {
            await admin.end();
          }
          const url = server.url.replace(/\/postgres$/, `/${name}`);
          const looker = new pg.Client({ connectionString: url });
          await looker.connect();
          const queries = {
            quota: "SELECT count(*) AS n FROM invites_api_quota_uses WHERE subject = $1",
            oneTime: "SELECT count(*) AS n FROM invites_api_one_time WHERE id = $1",
            people: `SELECT count(*) AS n FROM public.keyv WHERE key = '${PEOPLE_NAMESPACE}:' || $1`,
          };
          return openPair(url, {
            count: async (kind, key) => Number((await looker.query(queries[kind], [key])).rows[0].n),
            close: () => looker.end(),
          });
        },
        dispose: () => server.dispose(),
      };
    },
  },
];

// The quotas' clock is the `now` each call is given: time passes only when a case says so.
const T = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;
const WEEK = 7 * DAY;
let uses = 0;
const use = () => `use-${(uses += 1)}`;

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

  describe("quotas", () => {
    it("200 concurrent takes from two handles for a limit of 5: exactly 5 taken, each refusal sees 5 used", async () => {
      const { a, b } = handles();
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).quotas.take("alice@example.test", 5, WEEK, T + i, use())),
      );
      const taken = results.filter((r) => r.taken);
      assert.equal(taken.length, 5);
      for (const refused of results.filter((r) => !r.taken)) assert.equal(refused.state.used, 5);
      for (const store of [a, b])
        assert.equal((await store.quotas.peek("alice@example.test", 5, WEEK, T + 200)).used, 5);
      // Another subject counts apart.
      assert.equal((await b.quotas.take("bob@example.test", 5, WEEK, T + 200, use())).taken, true);
    });

    it("takes from 4 threads at once, each its own connection (as processes): each of 100 subjects gets its limit", async () => {
      const { a, url } = handles();
      if (!url) return;
      // Each thread takes 4 at once for each subject in turn: 16 takes per subject, meeting on each.
      const job = { prefix: "p", subjects: 100, limit: 2, takes: 4, windowMs: WEEK, now: T, threads: 4 };
      assert.equal(await takeFromThreads(url, job), 200);
      for (const subject of ["p0", "p99"]) assert.equal((await a.quotas.peek(subject, 2, WEEK, T + 100)).used, 2);
    });

    it("the window rolls: a use counts for windowMs after it was taken; next_at is when the oldest leaves", async () => {
      const { a, b } = handles();
      const W = 1_000;
      const s = "carol@example.test";
      assert.deepEqual(await a.quotas.peek(s, 2, W, T), { limit: 2, used: 0 });
      assert.deepEqual(await a.quotas.take(s, 2, W, T, use()), {
        taken: true,
        state: { limit: 2, used: 1, nextAt: T + W },
      });
      assert.deepEqual(await b.quotas.take(s, 2, W, T + 100, use()), {
        taken: true,
        state: { limit: 2, used: 2, nextAt: T + W },
      });
      assert.deepEqual(await a.quotas.take(s, 2, W, T + 200, use()), {
        taken: false,
        state: { limit: 2, used: 2, nextAt: T + W },
      });
      assert.equal((await b.quotas.take(s, 2, W, T + W - 1, use())).taken, false, "1 ms before the oldest leaves");
      // At T + W the first use is out: the window is (now - W, now].
      assert.deepEqual(await b.quotas.take(s, 2, W, T + W, use()), {
        taken: true,
        state: { limit: 2, used: 2, nextAt: T + 100 + W },
      });
      assert.deepEqual(await a.quotas.peek(s, 2, W, T + 100 + W), { limit: 2, used: 1, nextAt: T + 2 * W });
      assert.deepEqual(await a.quotas.peek(s, 2, W, T + 3 * W), { limit: 2, used: 0 });
      // A smaller limit than the uses held (the operator lowered it): refused, the uses as they are.
      assert.deepEqual(await b.quotas.take(s, 1, W, T + W + 1, use()), {
        taken: false,
        state: { limit: 1, used: 2, nextAt: T + 100 + W },
      });
    });

    it("a release gives back exactly the one use it names, once", async () => {
      const { a, b } = handles();
      const s = "dave@example.test";
      const [u1, u2, u3] = [use(), use(), use()];
      for (const [i, u] of [u1, u2, u3].entries())
        assert.equal((await a.quotas.take(s, 3, WEEK, T + i, u)).taken, true);
      assert.equal((await b.quotas.take(s, 3, WEEK, T + 10, use())).taken, false);
      await b.quotas.release(s, u2);
      assert.deepEqual(await a.quotas.peek(s, 3, WEEK, T + 11), { limit: 3, used: 2, nextAt: T + WEEK });
      await b.quotas.release(s, u2);
      await a.quotas.release(s, "not-a-use");
      await a.quotas.release("someone-else@example.test", u1);
      assert.equal((await a.quotas.peek(s, 3, WEEK, T + 12)).used, 2, "nothing more given back");
      assert.equal((await a.quotas.take(s, 3, WEEK, T + 13, use())).taken, true);
      assert.equal((await b.quotas.take(s, 3, WEEK, T + 14, use())).taken, false);
      // Releasing the oldest moves next_at to the next one.
      await a.quotas.release(s, u1);
      assert.deepEqual(await b.quotas.peek(s, 3, WEEK, T + 15), { limit: 3, used: 2, nextAt: T + 2 + WEEK });
    });

    it("uses out of the window are removed, not only left uncounted: the subject's own on its take, others' too", async () => {
      const { a, b, inside } = handles();
      if (!inside) return;
      // The real clock: Redis drops a subject's set by itself, when its newest use's window ends.
      const W = 300;
      const start = Date.now();
      await a.quotas.take("erin@example.test", 5, W, start, use());
      await a.quotas.take("erin@example.test", 5, W, start + 1, use());
      await a.quotas.take("frank@example.test", 5, W, start, use());
      assert.equal(await inside.count("quota", "erin@example.test"), 2);
      await sleep(W + 100);
      const later = Date.now();
      assert.equal((await b.quotas.take("erin@example.test", 5, W, later, use())).state.used, 1);
      assert.equal(await inside.count("quota", "erin@example.test"), 1);
      assert.equal(await inside.count("quota", "frank@example.test"), 0, "frank never took again");
    });
  });

  describe("one-time values", () => {
    it("50 concurrent takes of one value from two handles: it is taken once, for each of 10 values", async () => {
      const { a, b } = handles();
      for (let v = 0; v < 10; v += 1) await (v % 2 ? a : b).oneTime.put(`token-${v}`, `value-${v}`, 60_000);
      const takes = await Promise.all(
        Array.from({ length: 10 }, (_, v) =>
          Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).oneTime.take(`token-${v}`))),
        ),
      );
      for (const [v, results] of takes.entries()) {
        assert.deepEqual(
          results.filter((r) => r !== undefined),
          [`value-${v}`],
        );
      }
      assert.equal(await a.oneTime.take("token-0"), undefined);
      assert.equal(await b.oneTime.take("never-put"), undefined);
    });

    it("a value past its time is not taken, and is gone; a value put again is the new one", async () => {
      const { a, b, inside } = handles();
      await a.oneTime.put("short", "v1", 200);
      await a.oneTime.put("long", "v2", 60_000);
      await a.oneTime.put("long", "v3", 60_000);
      await sleep(400);
      assert.equal(await b.oneTime.take("short"), undefined);
      await a.oneTime.put("stale", "v4", 100);
      await sleep(200);
      // A put removes what is past its time (SQL); Redis drops it by itself.
      await b.oneTime.put("fresh", "v5", 60_000);
      if (inside) assert.equal(await inside.count("oneTime", "stale"), 0);
      assert.equal(await b.oneTime.take("long"), "v3");
      assert.equal(await a.oneTime.take("fresh"), "v5");
    });
  });

  describe("people's keyv", () => {
    it("a value is shared by the handles, kept apart from key records, and gone after its TTL", async () => {
      const { a, b, inside } = handles();
      await a.people.set("session:abc", { jid: "alice@example.test" }, 300);
      await a.people.set("notify:alice@example.test", false);
      assert.deepEqual(await b.people.get("session:abc"), { jid: "alice@example.test" });
      assert.equal(await b.people.get("notify:alice@example.test"), false);
      assert.equal(await b.keyRecords.get("session:abc"), undefined);
      const listed: string[] = [];
      for await (const [key] of b.keyRecords.iterator!(undefined)) listed.push(String(key));
      assert.deepEqual(listed, []);
      await sleep(400);
      // A write removes what is past its time (SQL); Redis drops it by itself.
      await b.people.set("signout:alice@example.test", Date.now());
      if (inside) assert.equal(await inside.count("people", "session:abc"), 0);
      assert.equal(await a.people.get("session:abc"), undefined);
      assert.equal(await a.people.get("notify:alice@example.test"), false);
    });
  });
}

for (const kind of kinds) {
  describe(`people stores: ${kind.name}`, { timeout: 120_000 }, () => {
    // Started by the first case that runs: none when --test-name-pattern leaves this backend out.
    let started: Promise<Backend> | undefined;
    after(async () => {
      await (await started?.catch(() => undefined))?.dispose();
    });
    contract(() => (started ??= kind.start()));
  });
}
