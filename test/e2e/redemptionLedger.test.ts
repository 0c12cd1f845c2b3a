import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { openStore } from "../../src/store/open.js";
import type { ServiceStore } from "../../src/store/store.js";
import type { RedemptionBatch, RedemptionTotals, Usage } from "../../src/store/usage.js";
import { terminate, track } from "../support/cleanup.js";
import { startPostgres, startRedis, type RunningServer } from "../support/servers.js";
import { freshKeyStore } from "../support/stack.js";

/**
 * The redemption ledger (RedemptionLedger.applyRedemptions) against real stores, each opened by two
 * backends as two instances (or processes) would: a batch of registrations read from a host's
 * records is counted once, all or nothing, by whichever instance moves the cursor first.
 */

const ROUNDS = 20;
const PROCESS_ROUNDS = 2_000;

interface Store {
  readonly url: string;
  dispose(): Promise<void>;
}

interface Kind {
  readonly name: string;
  start(): Promise<Store>;
  /**
   * Makes a store whose usage table has only the columns it first shipped with (id, issued,
   * last_used_at), with one row `id` in it; returns its KEY_STORE.
   */
  legacy?(store: Store, id: string): Promise<string>;
}

const OLD_TABLE =
  "CREATE TABLE invites_api_usage (id TEXT PRIMARY KEY, issued INTEGER NOT NULL DEFAULT 0, last_used_at TEXT)";
const OLD_LAST_USED = "2026-11-20T10:00:00.000Z";

const kinds: Kind[] = [
  {
    name: "sqlite",
    start: async () => ({ url: freshKeyStore(), dispose: async () => {} }),
    legacy: async (_store, id) => {
      const path = freshKeyStore();
      const db = new Database(path);
      try {
        db.exec(OLD_TABLE);
        db.prepare("INSERT INTO invites_api_usage (id, issued, last_used_at) VALUES (?, ?, ?)").run(
          id,
          4,
          OLD_LAST_USED,
        );
      } finally {
        db.close();
      }
      return path;
    },
  },
  // Redis has no schema: a hash takes new fields as they come.
  { name: "redis", start: (): Promise<RunningServer> => startRedis() },
  {
    name: "postgres",
    start: (): Promise<RunningServer> => startPostgres(),
    // A database of its own on the same server: the table as 0.1.x made it (bigint, varchar).
    legacy: async (store, id) => {
      const admin = new pg.Client({ connectionString: store.url });
      await admin.connect();
      try {
        await admin.query("CREATE DATABASE legacy");
      } finally {
        await admin.end();
      }
      const url = store.url.replace(/\/postgres$/, "/legacy");
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      try {
        await db.query(
          "CREATE TABLE invites_api_usage (id varchar(255) PRIMARY KEY, issued bigint NOT NULL DEFAULT 0, last_used_at text)",
        );
        await db.query("INSERT INTO invites_api_usage (id, issued, last_used_at) VALUES ($1, $2, $3)", [
          id,
          4,
          OLD_LAST_USED,
        ]);
      } finally {
        await db.end();
      }
      return url;
    },
  },
];

/** Opens two backends on one store; closes what was opened if the second fails. */
async function openTwo(url: string): Promise<[ServiceStore, ServiceStore]> {
  const opened: ServiceStore[] = [];
  try {
    opened.push(await openStore(url));
    opened.push(await openStore(url));
  } catch (err) {
    await Promise.allSettled(opened.map((backend) => backend.close()));
    throw err;
  }
  return opened as [ServiceStore, ServiceStore];
}

const minute = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString();

interface Ids {
  readonly k1: string;
  readonly k2: string;
  /** A key without a counter: deleted, or never counted. */
  readonly gone: string;
}

/** The registrations read from the records in round `round`: from its cursor to the next. */
function raceBatch(host: string, prefix: string, ids: Ids, round: number): RedemptionBatch {
  return {
    host,
    deliveries: [],
    from: round === 0 ? null : `${prefix}${round}`,
    to: `${prefix}${round + 1}`,
    accounts: new Map([
      [ids.k1, { count: 2, lastAt: minute(round) }],
      [ids.k2, { count: 1, lastAt: minute(round) }],
      [ids.gone, { count: 5, lastAt: minute(round) }],
    ]),
    registrations: 3,
    resets: 1,
  };
}

/** What a ledger batch touches: the ledger and the usage counters. */
type View = Pick<ServiceStore, "usage" | "ledger">;

const totalsOf = async (view: View, host: string): Promise<RedemptionTotals | undefined> =>
  (await view.ledger.redemptionTotals()).find((t) => t.host === host);

/** Everything a batch for `host` could change, as seen through `view`. */
async function ledgerState(view: View, host: string, ids: readonly string[]) {
  return {
    cursor: await view.ledger.redemptionCursor(host),
    totals: await totalsOf(view, host),
    usage: Object.fromEntries(await view.usage.read(ids)) as Record<string, Usage>,
  };
}

/** After `rounds` batches of raceBatch: each counted exactly once, on either backend. */
async function assertRaceCounted(
  views: readonly View[],
  host: string,
  prefix: string,
  ids: Ids,
  rounds: number,
): Promise<void> {
  for (const view of views) {
    assert.equal(await view.ledger.redemptionCursor(host), `${prefix}${rounds}`);
    const read = await view.usage.read([ids.k1, ids.k2, ids.gone]);
    assert.deepEqual(read.get(ids.k1), {
      invitesIssued: 0,
      accountsRegistered: 2 * rounds,
      lastRegistrationAt: minute(rounds - 1),
    });
    assert.deepEqual(read.get(ids.k2), {
      invitesIssued: 0,
      accountsRegistered: rounds,
      lastRegistrationAt: minute(rounds - 1),
    });
    assert.equal(read.has(ids.gone), false, "a key without a counter was given one");
    // Nor half of one that counting invites would take for a live key.
    assert.equal(await view.usage.add(ids.gone, 1, minute(0), undefined), "missing");
    assert.deepEqual(await totalsOf(view, host), { host, registrations: 3 * rounds, resets: rounds });
  }
}

for (const kind of kinds) {
  describe(`redemption ledger in ${kind.name}`, () => {
    let store: Store | undefined;
    let backends: [ServiceStore, ServiceStore] | undefined;
    before(async () => {
      store = await kind.start();
      backends = await openTwo(store.url);
    });
    after(async () => {
      await Promise.allSettled((backends ?? []).map((backend) => backend.close()));
      await store?.dispose();
    });

    it(`two backends applying the same batch at once count it once (${ROUNDS} rounds)`, async () => {
      const [a, b] = backends!;
      const host = "race.example.test";
      const ids = { k1: "RaceKey1", k2: "RaceKey2", gone: "RaceGone" };
      await a.usage.create(ids.k1, { invitesIssued: 0 });
      await b.usage.create(ids.k2, { invitesIssued: 0 });
      assert.equal(await a.ledger.redemptionCursor(host), null);
      assert.equal(await b.ledger.redemptionCursor(host), null);
      for (let round = 0; round < ROUNDS; round += 1) {
        // Each instance read the same records on its own: equal batches, not one shared object.
        // Who asks first alternates, so that either may be the one that counts.
        const [first, second] = round % 2 ? [a, b] : [b, a];
        const results = await Promise.all([
          first.ledger.applyRedemptions(raceBatch(host, "c", ids, round)),
          second.ledger.applyRedemptions(raceBatch(host, "c", ids, round)),
        ]);
        assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(results)}`);
        assert.equal(await a.ledger.redemptionCursor(host), `c${round + 1}`);
      }
      await assertRaceCounted([a, b], host, "c", ids, ROUNDS);
    });

    it("a stale cursor is refused and changes nothing; the latest registration time is kept", async () => {
      const [a, b] = backends!;
      const host = "stale.example.test";
      const key = "StaleKey";
      const other = "OtherKey";
      const ids = [key, other];
      await a.usage.create(key, { invitesIssued: 3, lastUsedAt: "2026-01-01T08:00:00.000Z" });
      await a.usage.create(other, { invitesIssued: 0 });
      const batch = (from: string | null, to: string, count: number, lastAt: string): RedemptionBatch => ({
        host,
        deliveries: [],
        from,
        to,
        accounts: new Map([
          [key, { count, lastAt }],
          [other, { count: 1, lastAt }],
        ]),
        registrations: count + 1,
        resets: count,
      });

      assert.equal(await a.ledger.applyRedemptions(batch(null, "s1", 1, "2026-01-02T00:00:00.000Z")), true);
      assert.equal(await b.ledger.applyRedemptions(batch("s1", "s2", 2, "2026-01-05T00:00:00.000Z")), true);
      const kept = await ledgerState(a, host, ids);
      assert.deepEqual(kept, {
        cursor: "s2",
        totals: { host, registrations: 5, resets: 3 },
        usage: {
          [key]: {
            invitesIssued: 3,
            lastUsedAt: "2026-01-01T08:00:00.000Z",
            accountsRegistered: 3,
            lastRegistrationAt: "2026-01-05T00:00:00.000Z",
          },
          [other]: { invitesIssued: 0, accountsRegistered: 2, lastRegistrationAt: "2026-01-05T00:00:00.000Z" },
        },
      });

      // An instance that read from an older cursor (or from none, or from one never stored) counted
      // records already counted: refused, on either backend, and nothing of it is kept.
      for (const from of ["s1", null, "s0", "s3"]) {
        for (const view of [a, b]) {
          const stale = batch(from, "s9", 50, "2026-03-01T00:00:00.000Z");
          assert.equal(await view.ledger.applyRedemptions(stale), false, `from ${String(from)} was applied`);
        }
      }
      assert.deepEqual(await ledgerState(a, host, ids), kept);
      assert.deepEqual(await ledgerState(b, host, ids), kept);

      // A later batch whose last registration is older than the one kept: counted, time kept.
      assert.equal(await a.ledger.applyRedemptions(batch("s2", "s3", 1, "2026-01-03T00:00:00.000Z")), true);
      const later = await ledgerState(b, host, ids);
      assert.equal(later.cursor, "s3");
      assert.deepEqual(later.totals, { host, registrations: 7, resets: 4 });
      assert.equal(later.usage[key]?.accountsRegistered, 4);
      assert.equal(later.usage[key]?.lastRegistrationAt, "2026-01-05T00:00:00.000Z");
      assert.equal(later.usage[key]?.invitesIssued, 3, "invites issued are left alone");
      assert.equal(later.usage[key]?.lastUsedAt, "2026-01-01T08:00:00.000Z");
      assert.equal(later.usage[other]?.lastRegistrationAt, "2026-01-05T00:00:00.000Z");

      // A key deleted (on the other backend) between two batches is not counted, nor made again.
      await b.usage.remove(other);
      assert.equal(await a.ledger.applyRedemptions(batch("s3", "s4", 1, "2026-01-06T00:00:00.000Z")), true);
      for (const view of [a, b]) {
        const read = await view.usage.read(ids);
        assert.equal(read.has(other), false, "a deleted key's counter came back");
        assert.equal(await view.usage.add(other, 1, "2026-01-06T00:00:00.000Z", undefined), "missing");
        assert.equal(read.get(key)?.accountsRegistered, 5);
        assert.equal(read.get(key)?.lastRegistrationAt, "2026-01-06T00:00:00.000Z");
      }
      // The hosts' totals are apart.
      assert.deepEqual(await totalsOf(b, host), { host, registrations: 9, resets: 5 });
      const unknown = "unknown.example.test";
      assert.equal(await b.ledger.redemptionCursor(unknown), null);
      assert.equal(await totalsOf(b, unknown), undefined);
      // A host with no cursor yet refuses a batch read after one: nothing is counted for it.
      assert.equal(await a.ledger.applyRedemptions({ ...batch("s3", "s9", 1, minute(0)), host: unknown }), false);
      assert.equal(await b.ledger.redemptionCursor(unknown), null);
      const unknownTotals = await totalsOf(b, unknown);
      if (unknownTotals) assert.deepEqual(unknownTotals, { host: unknown, registrations: 0, resets: 0 });
      assert.equal((await b.usage.read([key])).get(key)?.accountsRegistered, 5);
    });

    const legacy = kind.legacy;
    if (legacy) {
      it("an older usage table (id, issued, last_used_at) gets the new columns, and its rows are counted", async () => {
        const id = "OldKey01";
        const host = "legacy.example.test";
        const url = await legacy(store!, id);
        const batch = (from: string | null, to: string, lastAt: string): RedemptionBatch => ({
          host,
          deliveries: [],
          from,
          to,
          accounts: new Map([[id, { count: 2, lastAt }]]),
          registrations: 2,
          resets: 0,
        });
        // Opened by one process, then by a second once the columns are there (nothing to add).
        const first = await openStore(url);
        try {
          assert.deepEqual((await first.usage.read([id])).get(id), {
            invitesIssued: 4,
            lastUsedAt: OLD_LAST_USED,
            accountsRegistered: 0,
          });
          assert.equal(await first.ledger.applyRedemptions(batch(null, "l1", "2026-12-01T00:00:00.000Z")), true);
        } finally {
          await first.close();
        }
        const second = await openStore(url);
        try {
          assert.equal(await second.ledger.applyRedemptions(batch(null, "l9", "2026-12-09T00:00:00.000Z")), false);
          assert.equal(await second.ledger.applyRedemptions(batch("l1", "l2", "2026-12-02T00:00:00.000Z")), true);
          assert.deepEqual((await second.usage.read([id])).get(id), {
            invitesIssued: 4,
            lastUsedAt: OLD_LAST_USED,
            accountsRegistered: 4,
            lastRegistrationAt: "2026-12-02T00:00:00.000Z",
          });
          assert.deepEqual(await totalsOf(second, host), { host, registrations: 4, resets: 0 });
          // The old row still counts invites as before.
          assert.equal(await second.usage.add(id, 1, "2026-12-03T00:00:00.000Z", 5), "counted");
          assert.equal(await second.usage.add(id, 1, "2026-12-03T00:00:00.000Z", 5), "exhausted");
        } finally {
          await second.close();
        }
        assert.deepEqual(await usageColumns(kind.name, url), [
          "accounts",
          "id",
          "issued",
          "last_registration_at",
          "last_used_at",
        ]);
      });
    }

    if (kind.name === "sqlite") {
      it(`two processes applying the same batches at once count each once (${PROCESS_ROUNDS} batches)`, async (t) => {
        const [a] = backends!;
        const host = "processes.example.test";
        const ids = { k1: "ProcKey1", k2: "ProcKey2", gone: "ProcGone" };
        await a.usage.create(ids.k1, { invitesIssued: 0 });
        await a.usage.create(ids.k2, { invitesIssued: 0 });
        const batches = Array.from({ length: PROCESS_ROUNDS }, (_, round) => raceBatch(host, "p", ids, round));
        const racers: Racer[] = [];
        try {
          const batchFile = writeBatches(store!.url, batches);
          racers.push(startRacer(store!.url, "p", batchFile));
          racers.push(startRacer(store!.url, "p", batchFile));
          await Promise.all(racers.map((racer) => racer.ready));
          // Both have opened the file; both start at once.
          for (const racer of racers) racer.child.stdin?.end("go\n");
          const [resultA, resultB] = await Promise.all(racers.map((racer) => racer.result));
          const wonA = resultA?.won ?? [];
          const wonB = resultB?.won ?? [];
          t.diagnostic(
            `process A counted ${wonA.length} batches (${resultA?.lost} found it counted first), ` +
              `process B ${wonB.length} (${resultB?.lost})`,
          );
          const both = wonA.filter((i) => wonB.includes(i));
          assert.equal(both.length, 0, `${both.length} batches counted by both processes, from batch ${both[0]}`);
          assert.deepEqual(
            [...wonA, ...wonB].sort((x, y) => x - y),
            batches.map((_, i) => i),
          );
        } finally {
          await Promise.allSettled(racers.map((racer) => racer.stop()));
        }
        await assertRaceCounted([a], host, "p", ids, PROCESS_ROUNDS);
      });
    }
  });
}

/** The usage table's columns, sorted, read straight from the store. */
async function usageColumns(kind: string, url: string): Promise<string[]> {
  if (kind === "sqlite") {
    const db = new Database(url, { readonly: true });
    try {
      return db
        .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('invites_api_usage') ORDER BY name")
        .all()
        .map((c) => c.name);
    } finally {
      db.close();
    }
  }
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const result = await db.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'invites_api_usage' ORDER BY column_name",
    );
    return result.rows.map((row) => row.column_name);
  } finally {
    await db.end();
  }
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const OPEN_STORE = fileURLToPath(new URL("../../src/store/open.ts", import.meta.url));

// A process of its own, as an instance is: it opens the store, says "ready", waits for a line, then
// reads the cursor and applies the batch that follows it, until the last is counted; it prints the
// indexes of the batches it counted and how many times the other process was first.
const RACER = `
const [, openModule, keyStore, prefix, batchFile] = process.argv;
const { openStore } = await import(openModule);
const { readFileSync } = await import("node:fs");
const batches = JSON.parse(readFileSync(batchFile, "utf8")).map((batch) => ({ ...batch, accounts: new Map(batch.accounts) }));
const backend = await openStore(keyStore);
try {
  process.stdout.write("ready\\n");
  await new Promise((resolve) => process.stdin.once("data", resolve));
  const won = [];
  let lost = 0;
  for (let attempts = 0; ; attempts += 1) {
    if (attempts > 10 * batches.length) throw new Error("the cursor does not move");
    const cursor = await backend.ledger.redemptionCursor(batches[0].host);
    const next = cursor === null ? 0 : Number(cursor.slice(prefix.length));
    if (next >= batches.length) break;
    if (await backend.ledger.applyRedemptions(batches[next])) won.push(next);
    else lost += 1;
  }
  process.stdout.write(JSON.stringify({ won, lost }) + "\\n");
} finally {
  await backend.close();
}
`;

interface Racer {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly result: Promise<{ won: number[]; lost: number }>;
  stop(): Promise<void>;
}

/** Writes the batches beside the store, for racers to read (too long for a command line). */
function writeBatches(keyStore: string, batches: readonly RedemptionBatch[]): string {
  const path = join(dirname(keyStore), "batches.json");
  writeFileSync(path, JSON.stringify(batches.map((batch) => ({ ...batch, accounts: [...batch.accounts] }))));
  return path;
}

function startRacer(keyStore: string, prefix: string, batchFile: string): Racer {
  const child = track(
    spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", RACER, OPEN_STORE, keyStore, prefix, batchFile],
      {
        cwd: ROOT,
        stdio: ["pipe", "pipe", "pipe"],
      },
    ),
  );
  // track() lets the test process end without it; here the test waits for its answer.
  child.ref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { ref?: () => void } | null)?.ref?.();
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;
  const failed = (what: string) => new Error(`racer ${what} (exit ${child.exitCode}): ${stderr}`);
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => {
      if (stdout.startsWith("ready\n")) resolve();
    };
    child.stdout?.on("data", check);
    closed.then(() => reject(failed("ended before it was ready")), reject);
  });
  const result = closed.then(([code]) => {
    const lines = stdout.trim().split("\n");
    if (code !== 0 || lines[0] !== "ready" || lines.length !== 2) throw failed(`failed: ${stdout}`);
    return JSON.parse(lines[1] ?? "") as { won: number[]; lost: number };
  });
  // Whoever does not wait for these must not leave an unheard rejection behind.
  ready.catch(() => undefined);
  result.catch(() => undefined);
  return {
    child,
    ready,
    result,
    stop: () => terminate(child, closed, "SIGKILL", 5_000),
  };
}
