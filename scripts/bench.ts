// npm run bench [-- --smoke]: the service next to Prosody's own cost and a plain node:http floor, in
// one run; prints the figures issue 12 asks for as ratios, each with its target. Asserts nothing
// about speed (CI runs --smoke so that this script cannot rot), only that each case got the answers
// it should. Every process it starts is stopped on every path, and a watchdog bounds the whole run.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { createKeyStore } from "../src/keys/keyStore.js";
import { openStore } from "../src/store/open.js";
import { parseKey } from "../src/keys/apiKey.js";
import { INVITE_MODULES, startProsody, type RunningProsody } from "../test/support/prosody.js";
import { closedPort } from "../test/support/ports.js";
import { startPostgres, startRedis, type RunningServer } from "../test/support/servers.js";
import { createKey, waitReady } from "../test/support/stack.js";
import {
  counted,
  cpuSeconds,
  fmt,
  load,
  peakRssMb,
  per1k,
  percentile,
  rawAdhoc,
  sequential,
  serveForBench,
  startListening,
  verdict,
  type Load,
  type Started,
} from "./bench/measure.js";
import { listing } from "./bench/listing.js";
import { history } from "./bench/history.js";
import { webhooks } from "./bench/webhooks.js";
import { unseen } from "./bench/unseen.js";
import { operator } from "./bench/operator.js";

const smoke = process.argv.includes("--smoke");
/**
 * `--only listing` runs only section 6 (issue 17), on its own Prosody; `--only history` only
 * section 7 (issue 18), on three Prosodys of its own; `--only webhooks` only section 8 (issue 19);
 * `--only unseen` only section 9 (issue 26, review point 2); `--only operator` only section 10
 * (issue 30).
 */
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
/**
 * `--sizes 10000[,…]`: the listing section's N (default 1,000, 3,000 and 10,000); `--nagle`: its
 * Prosody keeps Nagle's algorithm on (Prosody's default), to compare with prosody-config's choice.
 */
const listingSizes = process.argv.includes("--sizes")
  ? (process.argv[process.argv.indexOf("--sizes") + 1] ?? "").split(",").map(Number)
  : undefined;
const SECTIONS = ["listing", "history", "webhooks", "unseen", "operator"];
if (only !== undefined && !SECTIONS.includes(only)) throw new Error(`--only takes: ${SECTIONS.join(", ")}`);
/** Seconds measured per case, and of warm-up before each measured load (V8 optimises for ~4 s). */
const SECONDS = smoke ? 1 : 10;
const WARMUP = smoke ? 0.5 : 8;
const SCALE = smoke ? 1_000 : 100_000;
/** The whole run is stopped (and everything it started with it) after this long. */
const WATCHDOG_SECONDS = smoke ? 240 : only === undefined ? 5_400 : 3_600;
const CONCURRENCY = 16;
const HOST = "bench.test";
const RAW = { domain: "raw.bench.test", secret: "bench-raw-secret" };
/** One component per store, so that no two instances ever share a component connection. */
const STORES = {
  sqlite: { name: "SQLite", domain: "invites.bench.test", secret: "bench-service-secret" },
  redis: { name: "Redis", domain: "redis.invites.bench.test", secret: "bench-redis-secret" },
  postgres: { name: "PostgreSQL", domain: "pg.invites.bench.test", secret: "bench-pg-secret" },
} as const;
type StoreName = keyof typeof STORES;
const FLOOR = fileURLToPath(new URL("bench/floor.ts", import.meta.url));

// Prosody's SQLite and the key stores on tmpfs when there is one: on a shared disk Prosody's fsync
// per invite held it to 73–275 invites/s (measured, see BENCHMARKS.md). BENCH_TMPDIR=…
// chooses another place; the test helpers make their folders in os.tmpdir().
const scratch = process.env.BENCH_TMPDIR ?? (existsSync("/dev/shm") ? "/dev/shm" : undefined);
if (scratch) process.env.TMPDIR = scratch;

const report = (label: string, value: string) => console.log(`${label.padEnd(64)} ${value}`);
const heading = (text: string) => console.log(`\n${text}`);
const statuses = (l: Load) => JSON.stringify(l.statuses) + (l.errors > 0 ? ` ${l.errors} errors` : "");

/**
 * The case really ran: it got the expected answers, and (nearly) only those; a stray few under
 * load are reported, not fatal. Nothing about speed.
 */
function expectStatuses(what: string, l: Load, ...expected: number[]): void {
  const good = counted(l, ...expected);
  if (good === 0 || good < l.answered * 0.99) {
    throw new Error(`${what}: expected ${expected.join("/")} answers, got ${statuses(l)}`);
  }
  if (good < l.answered || l.errors > 0)
    console.log(`  (${what}: some answers were not ${expected.join("/")}: ${statuses(l)})`);
}

interface Service extends Started {
  readonly url: string;
}

/**
 * `invites-api serve` as installed (the bin with its shebang flags), logging at info by default; the
 * load is one key, so no per-key rate, everything else at its default.
 */
const serve: (
  keyStore: string,
  componentPort: number,
  as: { domain: string; secret: string },
  extra?: Record<string, string>,
) => Promise<Service> = serveForBench;

/** Stops every started process, also when one stop fails. */
async function stopAll(started: ReadonlyArray<Started | undefined>): Promise<void> {
  await Promise.allSettled(started.map((s) => s?.stop()));
}

/** What each store gives on the two cases reported beside each other. */
interface StoreRow {
  readonly invites?: Load; // cpu: [service, Prosody]
  readonly rejected?: Load; // cpu: [service]
  readonly peakRss?: number;
  readonly skipped?: string;
}

/** The full path at concurrency 16 on `invites`, and bad keys (403, limit off) on `rejecting`. */
async function inviteAnd403(
  invites: Service,
  rejecting: Service,
  key: string,
  prosodyPid: number,
): Promise<Required<Omit<StoreRow, "skipped">>> {
  const inviteLoad = await load({
    url: `${invites.url}/invites_api?key=${key}`,
    connections: CONCURRENCY,
    warmup: WARMUP,
    seconds: SECONDS,
    pids: [invites.pid, prosodyPid],
  });
  expectStatuses("full path", inviteLoad, 201);
  const rejected = await load({
    url: `${rejecting.url}/invites_api?key=${badKeyFor(key)}`,
    connections: CONCURRENCY,
    warmup: WARMUP,
    seconds: SECONDS,
    pids: [rejecting.pid],
  });
  expectStatuses("bad keys, AUTH_FAILURE_LIMIT=off", rejected, 403);
  return {
    invites: inviteLoad,
    rejected,
    peakRss: Math.max(peakRssMb(invites.pid), peakRssMb(rejecting.pid)),
  };
}

/** A key with the right id and a wrong secret: one store lookup, then 403. */
const badKeyFor = (key: string) => `${parseKey(key)?.id ?? "AAAAAAAA"}/${"x".repeat(32)}`;

/** The same two cases with KEY_STORE on a Redis or PostgreSQL started for the run. */
async function sharedStore(
  which: Exclude<StoreName, "sqlite">,
  prosody: RunningProsody,
  prosodyPid: number,
): Promise<StoreRow> {
  let server: RunningServer;
  try {
    server = which === "redis" ? await startRedis() : await startPostgres();
  } catch (err) {
    return { skipped: `could not start ${STORES[which].name}: ${String(err).split("\n")[0]}` };
  }
  let invites: Service | undefined;
  let rejecting: Service | undefined;
  try {
    const key = await createKey(server.url, HOST, "bench");
    invites = await serve(server.url, prosody.componentPort, STORES[which]);
    rejecting = await serve(server.url, await closedPort(), STORES[which], { AUTH_FAILURE_LIMIT: "off" });
    await waitReady(invites.url, 15_000);
    return await inviteAnd403(invites, rejecting, key, prosodyPid);
  } finally {
    await stopAll([invites, rejecting]);
    await server.dispose();
  }
}

interface Figures {
  raw16: number; // mean of before and after the full path
  rawP50: number;
  ours1P50: number;
  orig16: number;
  floorPer1k: number;
  floorAt403Per1k: number;
  floorAt429Per1k: number;
  flood429: Load;
  floodOrig: Load;
  stores: Record<StoreName, StoreRow>;
}

async function run(prosody: RunningProsody): Promise<Figures> {
  const P = prosody.pid() ?? 0;
  const rawTarget = { port: prosody.componentPort, host: HOST, ...RAW };

  // 1. The physical limit: Prosody's own work per invite, from a bare component.
  heading("1. Raw ad-hoc: a bare component connection asks Prosody for invites (the limit)");
  const raw1 = await rawAdhoc(rawTarget, 1, SECONDS, [P]);
  const raw16 = await rawAdhoc(rawTarget, CONCURRENCY, SECONDS, [P]);
  report("raw ad-hoc, concurrency 1", `${fmt(raw1.rate)}/s, p50 ${fmt(raw1.p50, 2)} ms`);
  report(
    "raw ad-hoc, concurrency 16",
    `${fmt(raw16.rate)}/s, p50 ${fmt(raw16.p50, 2)} ms, Prosody CPU ${fmt(per1k(raw16.cpu[0] ?? NaN, raw16.count), 3)} s/1k`,
  );

  // 2.–4. The service with its default SQLite store, beside the original module and the floor.
  const storeDir = mkdtempSync(join(tmpdir(), "invites-api-bench-"));
  const keyStore = join(storeDir, "keys.sqlite");
  const started: Array<Started | undefined> = [];
  try {
    // The measured instance: defaults, but no per-key rate (the load is one key).
    const service = await serve(keyStore, prosody.componentPort, STORES.sqlite);
    started.push(service);
    // Bad keys with the failed-attempt limit off (403 after a store lookup; it needs no Prosody).
    const unlimited = await serve(keyStore, await closedPort(), STORES.sqlite, { AUTH_FAILURE_LIMIT: "off" });
    started.push(unlimited);
    // The 429 flood without the access log line per request, to show what logging costs there.
    const quiet = await serve(keyStore, await closedPort(), STORES.sqlite, { LOG_LEVEL: "warn" });
    started.push(quiet);
    await waitReady(service.url, 15_000);
    const key = await createKey(keyStore, HOST, "bench");

    heading("2. invites-api, full path (HTTP → service → Prosody), SQLite key store, defaults");
    // Keys in the query string on both sides: the original answers a Bearer key without one with 500.
    const ours1 = await sequential(`${service.url}/invites_api?key=${key}`, {}, SECONDS);
    report("invites-api, concurrency 1", `${fmt(ours1.rate)}/s, p50/p99 ${fmt(ours1.p50, 2)}/${fmt(ours1.p99, 2)} ms`);
    const sqlite = await inviteAnd403(service, unlimited, key, P);
    const ours16 = sqlite.invites;
    report(
      "invites-api, concurrency 16",
      `${fmt(ours16.rate)}/s, p50/p99 ${ours16.p50}/${ours16.p99} ms  ${statuses(ours16)}`,
    );
    const issued = counted(ours16, 201);
    const serviceInvite = per1k(ours16.cpu[0] ?? NaN, issued);
    const prosodyInvite = per1k(ours16.cpu[1] ?? NaN, issued);
    report("CPU per 1,000 invites: service / Prosody", `${fmt(serviceInvite, 3)} s / ${fmt(prosodyInvite, 3)} s`);
    // Prosody slows a little as invites pile up in its store: measure the raw rate again after the
    // full path and compare with the mean of both, so neither side gets the fresher store.
    const raw16After = await rawAdhoc(rawTarget, CONCURRENCY, SECONDS);
    const raw1After = await rawAdhoc(rawTarget, 1, SECONDS);
    report(
      "raw ad-hoc again, concurrency 1 / 16",
      `${fmt(raw1After.rate)}/s p50 ${fmt(raw1After.p50, 2)} ms / ${fmt(raw16After.rate)}/s`,
    );

    heading("3. mod_invites_api, the original module inside the same Prosody, same load");
    const originalKey = prosody.ctl(["mod_invites_api", "create", HOST, "bench"]).trim().split("\n").at(-1) ?? "";
    const original = `http://127.0.0.1:${prosody.httpPort}/invites_api`;
    const hostHeader = { Host: `${HOST}:${prosody.httpPort}` };
    const orig1 = await sequential(`${original}?key=${originalKey}`, hostHeader, SECONDS);
    const orig16 = await load({
      url: `${original}?key=${originalKey}`,
      connections: CONCURRENCY,
      headers: hostHeader,
      warmup: WARMUP,
      seconds: SECONDS,
      pids: [P],
    });
    expectStatuses("mod_invites_api", orig16, 201);
    report(
      "mod_invites_api, concurrency 1",
      `${fmt(orig1.rate)}/s, p50/p99 ${fmt(orig1.p50, 2)}/${fmt(orig1.p99, 2)} ms`,
    );
    report(
      "mod_invites_api, concurrency 16",
      `${fmt(orig16.rate)}/s, p50/p99 ${orig16.p50}/${orig16.p99} ms, Prosody CPU ${fmt(per1k(orig16.cpu[0] ?? NaN, counted(orig16, 201)), 3)} s/1k  ${statuses(orig16)}`,
    );

    heading(`4. Bad keys (right id, wrong secret), concurrency ${CONCURRENCY}: rate and CPU per 1,000 refused`);
    const badKey = badKeyFor(key);
    const flood429 = await load({
      url: `${service.url}/invites_api?key=${badKey}`,
      connections: CONCURRENCY,
      warmup: WARMUP,
      seconds: SECONDS,
      pids: [service.pid, P],
    });
    expectStatuses("bad keys, defaults", flood429, 403, 429);
    const flood403 = sqlite.rejected;
    const floodQuiet = await load({
      url: `${quiet.url}/invites_api?key=${badKey}`,
      connections: CONCURRENCY,
      warmup: WARMUP,
      seconds: SECONDS,
      pids: [quiet.pid],
    });
    expectStatuses("bad keys, LOG_LEVEL=warn", floodQuiet, 403, 429);
    const floodOrig = await load({
      url: `${original}?key=${originalKey.split("/")[0]}/${"x".repeat(32)}`,
      connections: CONCURRENCY,
      headers: hostHeader,
      warmup: WARMUP,
      seconds: SECONDS,
      pids: [P],
    });
    expectStatuses("bad keys, mod_invites_api", floodOrig, 403);
    // The floor: node:http, the key's id in a Map, 403. Its own process, loaded the same way.
    const floor = await startListening(
      [process.execPath, "--max-semi-space-size=4", "--max-old-space-size=64", "--import", "tsx", FLOOR],
      { PATH: process.env.PATH, FLOOR_PORT: "0", FLOOR_KEY: key },
    );
    started.push(floor);
    const floorLoad = (overallRate?: number) =>
      load({
        url: `http://127.0.0.1:${floor.port}/invites_api?key=${badKey}`,
        connections: CONCURRENCY,
        warmup: WARMUP,
        seconds: SECONDS,
        pids: [floor.pid],
        overallRate,
      });
    const floodFloor = await floorLoad();
    // A request costs less the more of them each turn of the event loop reads: the floor answers
    // three times as fast as the service, so it is also measured at the service's own rates.
    const floorAt403 = await floorLoad(flood403.rate);
    const floorAt429 = await floorLoad(flood429.rate);
    for (const [name, l] of [
      ["flood", floodFloor],
      ["403 rate", floorAt403],
      ["429 rate", floorAt429],
    ] as const) {
      expectStatuses(`bad keys, node:http floor at the ${name}`, l, 403);
    }
    await floor.stop();

    const cpuOf = (l: Load, i = 0) => per1k(l.cpu[i] ?? NaN, l.answered);
    const prosodyShare = (l: Load, i: number) => `Prosody ${fmt(((l.cpu[i] ?? NaN) / SECONDS) * 100, 1)}% of a core`;
    report(
      "invites-api, defaults (429 after 30 failures)",
      `${fmt(flood429.rate)}/s, ${fmt(cpuOf(flood429), 3)} s/1k, ${prosodyShare(flood429, 1)}  ${statuses(flood429)}`,
    );
    report(
      "invites-api, defaults but LOG_LEVEL=warn",
      `${fmt(floodQuiet.rate)}/s, ${fmt(cpuOf(floodQuiet), 3)} s/1k  ${statuses(floodQuiet)}`,
    );
    report(
      "invites-api, AUTH_FAILURE_LIMIT=off (403 after a store lookup)",
      `${fmt(flood403.rate)}/s, ${fmt(cpuOf(flood403), 3)} s/1k  ${statuses(flood403)}`,
    );
    report(
      "mod_invites_api (403)",
      `${fmt(floodOrig.rate)}/s, ${fmt(cpuOf(floodOrig), 3)} s/1k of Prosody, ${prosodyShare(floodOrig, 0)}`,
    );
    report("plain node:http floor (Map lookup, 403)", `${fmt(floodFloor.rate)}/s, ${fmt(cpuOf(floodFloor), 3)} s/1k`);
    report(
      "the floor at the 403 / the 429 flood's rate",
      `${fmt(floorAt403.rate)}/s, ${fmt(cpuOf(floorAt403), 3)} s/1k / ${fmt(floorAt429.rate)}/s, ${fmt(cpuOf(floorAt429), 3)} s/1k`,
    );

    // Peak RSS of the default instance after everything it served (and of the limit-off one).
    const sqliteRow: StoreRow = { ...sqlite, peakRss: Math.max(sqlite.peakRss, peakRssMb(service.pid)) };
    await stopAll(started);

    // The same full path and 403 case on the shared stores, beside SQLite.
    heading("Key stores side by side (Redis and PostgreSQL started for this run)");
    const stores: Record<StoreName, StoreRow> = {
      sqlite: sqliteRow,
      redis: await sharedStore("redis", prosody, P),
      postgres: await sharedStore("postgres", prosody, P),
    };
    const rawMean16 = (raw16.rate + raw16After.rate) / 2;
    printStores(stores, rawMean16, cpuOf(floodFloor));

    return {
      raw16: rawMean16,
      rawP50: (raw1.p50 + raw1After.p50) / 2,
      ours1P50: ours1.p50,
      orig16: orig16.rate,
      floorPer1k: cpuOf(floodFloor),
      floorAt403Per1k: cpuOf(floorAt403),
      floorAt429Per1k: cpuOf(floorAt429),
      flood429,
      floodOrig,
      stores,
    };
  } finally {
    await stopAll(started);
    rmSync(storeDir, { recursive: true, force: true });
  }
}

/** SQLite, Redis, PostgreSQL side by side; ÷ raw is the rate over the raw ad-hoc rate at 16. */
function printStores(stores: Record<StoreName, StoreRow>, raw16: number, floorPer1k: number): void {
  const columns = [
    ["store", 10],
    ["invites/s", 9],
    ["÷ raw", 5],
    ["service s/1k", 12],
    ["Prosody s/1k", 12],
    ["ratio", 5],
    ["403/s", 7],
    ["service s/1k", 12],
    ["÷ floor", 7],
    ["peak RSS", 8],
  ] as const;
  const line = (cells: string[]) =>
    console.log(
      cells.map((cell, i) => (i === 0 ? cell.padEnd(columns[i]![1]) : cell.padStart(columns[i]![1]))).join("  "),
    );
  console.log(
    `${"".padEnd(12)}${"invites, full path at 16 (ratio: service ÷ Prosody CPU)".padEnd(58)}bad keys, 403 (limit off)`,
  );
  line(columns.map(([title]) => title));
  for (const [name, row] of Object.entries(stores) as Array<[StoreName, StoreRow]>) {
    if (!row.invites || !row.rejected) {
      console.log(`${STORES[name].name.padEnd(10)}  not measured: ${row.skipped ?? "?"}`);
      continue;
    }
    const issued = counted(row.invites, 201);
    const service = per1k(row.invites.cpu[0] ?? NaN, issued);
    const prosody = per1k(row.invites.cpu[1] ?? NaN, issued);
    const rejected = per1k(row.rejected.cpu[0] ?? NaN, row.rejected.answered);
    line([
      STORES[name].name,
      fmt(row.invites.rate),
      fmt(row.invites.rate / raw16, 2),
      fmt(service, 3),
      fmt(prosody, 3),
      fmt(service / prosody, 2),
      fmt(row.rejected.rate),
      fmt(rejected, 3),
      fmt(rejected / floorPer1k, 1),
      `${fmt(row.peakRss ?? NaN, 1)} MB`,
    ]);
  }
}

function printTargets(f: Figures): void {
  heading("Targets (issue 12), from this run, defaults (access log at info), SQLite key store");
  const sqlite = f.stores.sqlite;
  const inv = sqlite.invites;
  const issued = inv ? counted(inv, 201) : 0;
  const cpuRatio = inv ? (inv.cpu[0] ?? NaN) / (inv.cpu[1] ?? NaN) : NaN;
  const perKey403 = sqlite.rejected ? per1k(sqlite.rejected.cpu[0] ?? NaN, sqlite.rejected.answered) : NaN;
  const perKey429 = per1k(f.flood429.cpu[0] ?? NaN, f.flood429.answered);
  const ours16 = inv?.rate ?? NaN;
  const added = f.ours1P50 - f.rawP50;
  report(
    "service CPU per invite / Prosody CPU per invite",
    verdict(
      `${fmt(cpuRatio, 2)} (${fmt(per1k(inv?.cpu[0] ?? NaN, issued), 3)} / ${fmt(per1k(inv?.cpu[1] ?? NaN, issued), 3)} s/1k)`,
      cpuRatio,
      "≤",
      0.25,
    ),
  );
  const floorRatio = (name: string, ours: number, floor: number) =>
    report(name, verdict(`${fmt(ours / floor, 2)} (${fmt(ours, 3)} / ${fmt(floor, 3)} s/1k)`, ours / floor, "≤", 2));
  floorRatio("service CPU per refused key / floor at the same rate, 403", perKey403, f.floorAt403Per1k);
  floorRatio("service CPU per refused key / floor at the same rate, 429", perKey429, f.floorAt429Per1k);
  floorRatio("service CPU per refused key / floor at its own flood, 403", perKey403, f.floorPer1k);
  floorRatio("service CPU per refused key / floor at its own flood, 429", perKey429, f.floorPer1k);
  report(
    "full path at 16 / raw ad-hoc at 16",
    verdict(`${fmt(ours16 / f.raw16, 2)} (${fmt(ours16)} / ${fmt(f.raw16)}/s)`, ours16 / f.raw16, "≥", 0.95),
  );
  report(
    "full path at 16 / mod_invites_api at 16",
    verdict(`${fmt(ours16 / f.orig16, 2)} (${fmt(ours16)} / ${fmt(f.orig16)}/s)`, ours16 / f.orig16, "≥", 1),
  );
  report("added p50 at concurrency 1 over raw ad-hoc", verdict(`${fmt(added, 2)} ms`, added, "≤", 1, " ms"));
  report(
    "service peak RSS (default and limit-off instances, whole run)",
    verdict(`${fmt(sqlite.peakRss ?? NaN, 1)} MB`, sqlite.peakRss ?? NaN, "<", 100, " MB"),
  );
  const rejection = f.flood429.rate / f.floodOrig.rate;
  report("bad-key rejection rate, ours (defaults) / mod_invites_api", verdict(fmt(rejection, 2), rejection, "≥", 4));
  console.log("CPU per request falls as the request rate rises: compare CPU figures within one run, not across runs.");
}

/** 5. Key-store scale, in this process: verify latency with 10 and SCALE keys, list time at SCALE. */
async function scale(): Promise<void> {
  heading("5. SQLite key store at scale (in this process)");
  for (const count of [10, SCALE]) {
    const dir = mkdtempSync(join(tmpdir(), "invites-api-scale-"));
    const backend = await openStore(join(dir, "keys.sqlite"));
    const keys = createKeyStore(backend.keyRecords, backend.usage);
    try {
      const made: string[] = [];
      const started = performance.now();
      for (let i = 0; i < count; i += 1) {
        const { key } = await keys.create(HOST, { name: `key ${i}` });
        if (i % Math.max(1, Math.floor(count / 200)) === 0) made.push(key);
      }
      const fillSeconds = (performance.now() - started) / 1_000;
      const times: number[] = [];
      for (let round = 0; round < 2_000; round += 1) {
        const parsed = parseKey(made[round % made.length]);
        const t = performance.now();
        if (!parsed || !(await keys.verify(parsed))) throw new Error("verify failed");
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      report(
        `verify with ${fmt(count)} keys (p50/p99)`,
        `${fmt(percentile(times, 0.5), 3)}/${fmt(percentile(times, 0.99), 3)} ms (store filled in ${fmt(fillSeconds, 1)} s)`,
      );
      if (count === SCALE) {
        const t = performance.now();
        const listed = await keys.list(HOST);
        report(
          `list with ${fmt(count)} keys`,
          `${fmt((performance.now() - t) / 1_000, 2)} s for ${fmt(listed.length)} keys`,
        );
      }
    } finally {
      await keys.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

async function main(): Promise<void> {
  const began = performance.now();
  console.log(
    `invites-api benchmark${smoke ? " (smoke: 1-second runs, small store; figures too short to quote)" : ""}`,
  );
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${fmt(totalmem() / 2 ** 30, 1)} GiB, Node ${process.version}; ` +
      `load: autocannon in this process, ${CONCURRENCY} connections, ${WARMUP} s warm-up + ${SECONDS} s measured per case`,
  );
  if (only === undefined) await everythingElse();
  if (only === undefined || only === "listing") {
    heading("6. GET /invites, paged, with N pending invites (issue 17), on a Prosody of its own");
    await listing({
      sizes: listingSizes ?? (smoke ? [200] : [1_000, 3_000, 10_000]),
      seconds: smoke ? 1 : 10,
      report,
      nagle: process.argv.includes("--nagle"),
    });
  }
  if (only === undefined || only === "history") {
    heading("7. Registration records and history (issue 18), on three Prosodys of their own");
    await history({
      registrations: smoke ? 10 : 200,
      runs: smoke ? 1 : 5,
      small: smoke ? 20 : 1_000,
      large: smoke ? 50 : 10_000,
      step: smoke ? 20 : 1_000,
      others: smoke ? 20 : 10_000,
      rounds: smoke ? 1 : 4,
      burst: smoke ? 2 : 5,
      report,
    });
  }
  if (only === undefined || only === "webhooks") {
    heading("8. Webhooks (issue 19): events per second to a local receiver, registration to delivery");
    await webhooks({ events: smoke ? 50 : 5_000, registrations: smoke ? 5 : 300, report });
  }
  if (only === undefined || only === "unseen") {
    heading("9. Registrations the service may not see (issue 26, review point 2): a sync pass, a history page");
    await unseen({ visible: smoke ? 5 : 20, unseen: smoke ? 50 : 1_000, calls: smoke ? 3 : 20 });
  }
  if (only === undefined || only === "operator") {
    heading("10. Operator controls (issue 30): a batch of invites, expiry events, the registration budget's check");
    await operator({
      batch: smoke ? 20 : 1_000,
      batches: smoke ? 1 : 3,
      expiring: smoke ? 5 : 1_000,
      ttl: 5,
      // The smoke run sweeps every second and reads the feed every second, to stay quick.
      fast: smoke,
      registrations: smoke ? 10 : 300,
      blocks: smoke ? 1 : 3,
      report,
    });
  }
  console.log(`\nbench finished in ${fmt((performance.now() - began) / 1_000)} s`);
}

/** Sections 1–5 and the targets of issue 12. */
async function everythingElse(): Promise<void> {
  const prosody = await startProsody({
    hosts: [HOST],
    components: [RAW, ...Object.values(STORES)],
    storage: "sql",
    hostModules: [...INVITE_MODULES, "invites_api"],
    logLevel: "info",
  });
  try {
    console.log(
      `Prosody: ${/Prosody version \S+/.exec(prosody.log())?.[0] ?? "started"}, SQL storage (SQLite), data in ${tmpdir()}`,
    );
    cpuSeconds(prosody.pid() ?? 0); // fails early if Prosody's CPU cannot be read
    const figures = await run(prosody);
    await scale();
    printTargets(figures);
  } finally {
    await prosody.dispose();
  }
}

// Never hang: past the deadline, exit; the exit kills every process the run started (cleanup.ts).
setTimeout(() => {
  console.error(`bench: not finished after ${WATCHDOG_SECONDS} s, stopping`);
  process.exit(1);
}, WATCHDOG_SECONDS * 1_000).unref();

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
