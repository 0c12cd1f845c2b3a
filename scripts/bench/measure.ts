// Measuring helpers for scripts/bench.ts: CPU and memory of other processes from /proc, HTTP load
// (autocannon) with the CPU each process spent in the measured window, timed sequential requests,
// the raw ad-hoc rate from a bare component, and the processes the bench starts.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { Agent, request } from "node:http";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { component, xml } from "@xmpp/component";
import { terminate, track } from "../../test/support/cleanup.js";
import { boundPort } from "../../test/support/listening.js";
import { CLI } from "../../test/support/service.js";

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

/** CPU seconds a process has used so far (user + system, all its threads), from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** The highest resident set size the process has had, in MB (VmHWM). */
export function peakRssMb(pid: number): number {
  const line = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(line?.[1] ?? NaN) / 1024;
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "n/a";

export const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

/** CPU seconds per 1,000 requests. */
export const per1k = (cpu: number, requests: number): number => (requests > 0 ? (cpu / requests) * 1_000 : NaN);

/** "figure (target ≤ 0.25: met)" */
export function verdict(figure: string, value: number, op: "≤" | "<" | "≥", limit: number, unit = ""): string {
  const met = op === "≤" ? value <= limit : op === "<" ? value < limit : value >= limit;
  const state = Number.isFinite(value) ? (met ? "met" : "missed") : "not measured";
  return `${figure} (target ${op} ${limit}${unit}: ${state})`;
}

/** Seconds of CPU each of `pids` spends while `work` runs. */
async function cpuDuring<T>(pids: readonly number[], work: () => Promise<T>): Promise<{ result: T; cpu: number[] }> {
  const before = pids.map(cpuSeconds);
  const result = await work();
  return { result, cpu: pids.map((pid, i) => cpuSeconds(pid) - (before[i] ?? 0)) };
}

export interface Load {
  /** Answers per second over the measured window. */
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  /** Answers by status code, in the measured window. */
  readonly statuses: Record<string, number>;
  readonly answered: number;
  readonly errors: number;
  /** CPU seconds of each watched process in the measured window, in the order of `pids`. */
  readonly cpu: number[];
}

/** Answers with these statuses, in the measured window. */
export const counted = (load: Load, ...statuses: number[]): number =>
  statuses.reduce((sum, status) => sum + (load.statuses[String(status)] ?? 0), 0);

/**
 * `connections` keep-alive connections, each with one request in flight: `warmup` seconds first
 * (V8 still optimises for a few seconds), then `seconds` measured, with the CPU each of `pids`
 * spends in that window; at most `overallRate` requests per second when given. Bounded: autocannon
 * stops at its duration, each request times out at 10 s.
 */
export async function load(opts: {
  url: string;
  connections: number;
  headers?: Record<string, string>;
  warmup: number;
  seconds: number;
  pids?: readonly number[];
  /** Requests per second for all connections together; unset: as fast as answers come. */
  overallRate?: number;
}): Promise<Load> {
  const run = (duration: number) =>
    autocannon({
      url: opts.url,
      connections: opts.connections,
      duration,
      headers: opts.headers ?? {},
      pipelining: 1,
      timeout: 10,
      ...(opts.overallRate ? { overallRate: Math.max(1, Math.round(opts.overallRate)) } : {}),
    }) as Promise<autocannon.Result>;
  if (opts.warmup > 0) await run(opts.warmup);
  const started = performance.now();
  const { result, cpu } = await cpuDuring(opts.pids ?? [], () => run(opts.seconds));
  const elapsed = (performance.now() - started) / 1_000;
  const statuses: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat.count ?? 0;
  const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
  return {
    rate: answered / elapsed,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statuses,
    answered,
    errors: result.errors + result.timeouts,
    cpu,
  };
}

export interface Timed {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly count: number;
  readonly cpu: number[];
}

function timedResult(latencies: number[], elapsedMs: number, cpu: number[]): Timed {
  latencies.sort((a, b) => a - b);
  return {
    rate: latencies.length / (elapsedMs / 1_000),
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    count: latencies.length,
    cpu,
  };
}

/** One client, one request at a time on a keep-alive connection, each timed here: precise latencies. */
export async function sequential(
  url: string,
  headers: Record<string, string>,
  seconds: number,
  expected = 201,
): Promise<Timed> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const req = request(url, { agent, headers }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.setTimeout(10_000, () => req.destroy(new Error(`no answer within 10 s from ${url}`)));
      req.on("error", reject);
      req.end();
    });
  try {
    for (let i = 0; i < 20; i += 1) await once();
    const latencies: number[] = [];
    const started = performance.now();
    const end = started + seconds * 1_000;
    while (performance.now() < end) {
      const t = performance.now();
      const status = await once();
      if (status !== expected) throw new Error(`expected ${expected}, got ${status}`);
      latencies.push(performance.now() - t);
    }
    return timedResult(latencies, performance.now() - started, []);
  } finally {
    agent.destroy();
  }
}

/**
 * The raw ad-hoc rate: a bare component connection (in this process), `concurrency` invite commands
 * in flight, for `seconds`, with the CPU each of `pids` (Prosody) spends meanwhile.
 */
export async function rawAdhoc(
  target: { port: number; domain: string; secret: string; host: string },
  concurrency: number,
  seconds: number,
  pids: readonly number[] = [],
): Promise<Timed> {
  const xmpp = component({
    service: `xmpp://127.0.0.1:${target.port}`,
    domain: target.domain,
    password: target.secret,
  });
  xmpp.on("error", () => {});
  await xmpp.start();
  try {
    const call = () =>
      xmpp.iqCaller.request(
        xml(
          "iq",
          { type: "set", to: target.host },
          xml("command", {
            xmlns: "http://jabber.org/protocol/commands",
            node: "urn:xmpp:invite#create-account",
            action: "execute",
          }),
        ),
        10_000,
      );
    for (let i = 0; i < 20; i += 1) await call(); // warm-up
    const latencies: number[] = [];
    const started = performance.now();
    const end = started + seconds * 1_000;
    const { cpu } = await cpuDuring(pids, () =>
      Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < end) {
            const t = performance.now();
            await call();
            latencies.push(performance.now() - t);
          }
        }),
      ),
    );
    return timedResult(latencies, performance.now() - started, cpu);
  } finally {
    await xmpp.stop().catch(() => undefined);
  }
}

/** A process the bench started: killed when the bench exits, whatever happens. */
export interface Started {
  readonly pid: number;
  readonly child: ChildProcess;
  /** The port it listens on. */
  readonly port: number;
  /** SIGTERM, SIGKILL 10 s later if still there; resolves once it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a server told to listen on port 0 (stderr shown), and waits until it listens: the port it
 * got is read from /proc, so that its stdout need not be read while it is measured. A failed start
 * leaves nothing.
 */
export async function startListening(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): Promise<Started> {
  const [bin, ...args] = argv as [string, ...string[]];
  const child = track(spawn(bin, args, { env, stdio: ["ignore", "ignore", "inherit"] }));
  const exited = once(child, "exit").then(() => undefined);
  const stop = () => terminate(child, exited, "SIGTERM", 10_000);
  try {
    const died = exited.then(() => {
      throw new Error(`${bin} exited at start (code ${child.exitCode}, signal ${child.signalCode})`);
    });
    died.catch(() => undefined);
    if (child.pid === undefined) throw new Error(`${bin} has no pid`);
    const port = await Promise.race([boundPort(child.pid, 20_000), died]);
    return { pid: child.pid, child, port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Starts `invites-api serve` on port 0 as component `as` of the Prosody at `componentPort`,
 * with no default key rate (a benchmark measures the service, not its limits); `extra` adds or
 * overrides variables.
 */
export async function serveForBench(
  keyStore: string,
  componentPort: number,
  as: { domain: string; secret: string },
  extra: Record<string, string> = {},
): Promise<Started & { url: string }> {
  const env = {
    PATH: process.env.PATH,
    KEY_STORE: keyStore,
    COMPONENT_SERVICE: `xmpp://127.0.0.1:${componentPort}`,
    COMPONENT_DOMAIN: as.domain,
    COMPONENT_SECRET: as.secret,
    HTTP_PORT: "0",
    DEFAULT_KEY_RATE: "off",
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
    SHUTDOWN_GRACE_MS: "0",
    ...extra,
  };
  const started = await startListening([CLI, "serve"], env);
  return { ...started, url: `http://127.0.0.1:${started.port}` };
}
