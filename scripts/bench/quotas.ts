// Issue 29: quota checks (QuotaStore.take) per second on each store, from one process as the
// service makes them: the store opened as the service opens it (openStore, bounded by the store
// deadline), real Redis and PostgreSQL started here, the SQLite file on tmpfs as bench.ts puts it.
// Per store, with the members' default quota (5 per 7 days): takes that are taken (a new person
// each time), 16 at a time and one at a time; then 16 at a time for one person at the limit
// (refused; every take waits for the one before on that subject: the lock or the script). Prints
// figures; asserts only that no person was given more than the limit.
//   node --import tsx scripts/bench/quotas.ts [--seconds 5] [--only memory|sqlite|redis|postgres]
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Logger } from "../../src/log.js";
import type { QuotaStore } from "../../src/people/types.js";
import { openMemory } from "../../src/store/memory/index.js";
import { boundedStore, openStore } from "../../src/store/open.js";
import { storeDeadline } from "../../src/store/deadline.js";
import type { ServiceStore } from "../../src/store/store.js";
import { startPostgres, startRedis, type RunningServer } from "../../test/support/servers.js";
import { fmt, percentile } from "./measure.js";

const SECONDS = process.argv.includes("--seconds") ? Number(process.argv[process.argv.indexOf("--seconds") + 1]) : 5;
/** `--only sqlite` (memory, sqlite, redis, postgres): that store alone. */
const ONLY = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const WARMUP_SECONDS = 1;
const CONCURRENCY = 16;
const LIMIT = 5;
const WINDOW_MS = 7 * 86_400_000;
const WATCHDOG_SECONDS = 600;

const scratch = process.env.BENCH_TMPDIR ?? (existsSync("/dev/shm") ? "/dev/shm" : undefined);
if (scratch) process.env.TMPDIR = scratch;

const silent = { warn: () => {}, info: () => {} } as unknown as Logger;
const report = (label: string, value: string) => console.log(`${label.padEnd(52)} ${value}`);

interface Run {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly taken: number;
  readonly refused: number;
}

/** `lanes` loops of take() for `seconds`, each waiting for its answer before the next. */
async function takes(quotas: QuotaStore, lanes: number, seconds: number, subject: () => string): Promise<Run> {
  const latencies: number[] = [];
  let taken = 0;
  let refused = 0;
  const started = performance.now();
  const until = started + seconds * 1_000;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (performance.now() < until) {
        const at = performance.now();
        const answer = await quotas.take(subject(), LIMIT, WINDOW_MS, Date.now(), randomUUID());
        latencies.push(performance.now() - at);
        if (answer.taken) taken += 1;
        else refused += 1;
        if (answer.state.used > LIMIT) throw new Error(`a person holds ${answer.state.used} uses of ${LIMIT}`);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  latencies.sort((x, y) => x - y);
  return {
    rate: latencies.length / elapsed,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    taken,
    refused,
  };
}

const line = (run: Run) =>
  `${fmt(run.rate).padStart(7)}/s  p50 ${fmt(run.p50, 2)} ms  p99 ${fmt(run.p99, 2)} ms  ` +
  `(taken ${fmt(run.taken)}, refused ${fmt(run.refused)})`;

async function measure(name: string, store: ServiceStore): Promise<void> {
  if (ONLY !== undefined && name !== ONLY) return;
  // As the service holds it: every call bounded by the store's deadline.
  const { quotas } = boundedStore(store, storeDeadline(name, silent));
  let n = 0;
  // A person never seen before each time: every take is taken (and leaves a use in the store).
  const newcomer = () => `person${(n += 1)}@bench.test`;
  await takes(quotas, CONCURRENCY, WARMUP_SECONDS, newcomer);
  report(`${name}: taken, ${CONCURRENCY} at a time`, line(await takes(quotas, CONCURRENCY, SECONDS, newcomer)));
  report(`${name}: taken, one at a time`, line(await takes(quotas, 1, SECONDS, newcomer)));
  report(
    `${name}: one person at the limit, ${CONCURRENCY} at a time`,
    line(await takes(quotas, CONCURRENCY, SECONDS, () => "one@bench.test")),
  );
}

async function main(): Promise<void> {
  console.log(
    `quota checks per second (QuotaStore.take), ${SECONDS} s per figure, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"})`,
  );
  const memory = openMemory();
  try {
    await measure("memory", memory);
  } finally {
    await memory.close();
  }
  const dir = mkdtempSync(join(tmpdir(), "invites-api-bench-quotas-"));
  try {
    const sqlite = await openStore(join(dir, "keys.sqlite"));
    try {
      await measure("sqlite", sqlite);
    } finally {
      await sqlite.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const [name, start] of [
    ["redis", startRedis],
    ["postgres", startPostgres],
  ] as const) {
    if (ONLY !== undefined && name !== ONLY) continue;
    const server: RunningServer = await start();
    try {
      const store = await openStore(server.url);
      try {
        await measure(name, store);
      } finally {
        await store.close();
      }
    } finally {
      await server.dispose();
    }
  }
}

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
