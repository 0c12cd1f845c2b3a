// npm run bench [-- --smoke]: the service next to Prosody's own cost, in one run. Prints figures;
// asserts nothing about speed (CI runs --smoke so that this script cannot rot).
import { execFileSync, spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { mkdtempSync, readFileSync } from "node:fs";
import { cpus, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import autocannon from "autocannon";
import { component, xml } from "@xmpp/component";
import { createKeyStore } from "../src/keys/keyStore.js";
import { openKeyBackend } from "../src/keys/openStore.js";
import { parseKey } from "../src/keys/apiKey.js";
import { INVITE_MODULES, startProsody } from "../test/support/prosody.js";
import { CLI } from "../test/support/service.js";
import { freePort } from "../test/support/ports.js";
import { createKey, waitReady } from "../test/support/stack.js";

const smoke = process.argv.includes("--smoke");
const SECONDS = smoke ? 1 : 10;
const SCALE = smoke ? 1_000 : 100_000;
const HOST = "bench.test";
const SERVICE = { domain: "invites.bench.test", secret: "bench-service-secret" };
const RAW = { domain: "raw.bench.test", secret: "bench-raw-secret" };
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

const rows: Array<[string, string]> = [];
const report = (label: string, value: string) => {
  rows.push([label, value]);
  console.log(`${label.padEnd(58)} ${value}`);
};
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

/** CPU seconds a process has used so far (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function peakRssMb(pid: number): number {
  const line = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(line?.[1] ?? NaN) / 1024;
}

/** The raw ad-hoc rate: a bare component connection, `concurrency` calls in flight, for SECONDS. */
async function rawAdhoc(port: number, concurrency: number): Promise<{ rate: number; p50: number; p99: number }> {
  const xmpp = component({ service: `xmpp://127.0.0.1:${port}`, domain: RAW.domain, password: RAW.secret });
  xmpp.on("error", () => {});
  await xmpp.start();
  const latencies: number[] = [];
  const call = () =>
    xmpp.iqCaller.request(
      xml(
        "iq",
        { type: "set", to: HOST },
        xml("command", {
          xmlns: "http://jabber.org/protocol/commands",
          node: "urn:xmpp:invite#create-account",
          action: "execute",
        }),
      ),
      10_000,
    );
  for (let i = 0; i < 20; i += 1) await call(); // warm-up
  const end = performance.now() + SECONDS * 1_000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await call();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  await xmpp.stop();
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / elapsed, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

interface Load {
  rate: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
}

/** One client, one request at a time on a keep-alive connection, each timed here: precise latencies. */
async function sequential(
  url: string,
  headers: Record<string, string>,
): Promise<{ rate: number; p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const req = request(url, { agent, headers }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
      req.end();
    });
  for (let i = 0; i < 20; i += 1) await once();
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1_000;
  const started = performance.now();
  while (performance.now() < end) {
    const t = performance.now();
    const status = await once();
    if (status !== 201) throw new Error(`expected 201, got ${status}`);
    latencies.push(performance.now() - t);
  }
  const elapsed = (performance.now() - started) / 1_000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / elapsed, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

async function load(url: string, connections: number, headers: Record<string, string>): Promise<Load> {
  const run = (duration: number) =>
    autocannon({ url, connections, duration, headers, pipelining: 1, timeout: 10 }) as Promise<autocannon.Result>;
  await run(1); // warm-up
  const result = await run(SECONDS);
  const statuses: Record<string, number> = {};
  for (const [k, v] of Object.entries(result.statusCodeStats ?? {})) statuses[k] = (v as { count: number }).count;
  return { rate: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, statuses };
}

async function main(): Promise<void> {
  console.log(`invites-api benchmark${smoke ? " (smoke: short runs, small store)" : ""}`);
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${fmt(totalmem() / 2 ** 30, 1)} GiB, Node ${process.version}`,
  );
  const prosody = await startProsody({
    hosts: [HOST],
    components: [SERVICE, RAW],
    storage: "sql",
    hostModules: [...INVITE_MODULES, "invites_api"],
    logLevel: "info",
  });
  const prosodyPid = prosody.pid() ?? 0;
  console.log(`Prosody: ${/Prosody version \S+/.exec(prosody.log())?.[0] ?? "started"}, SQL storage (SQLite)\n`);

  // 1. The physical limit: Prosody's own work per invite, from a bare component.
  const raw1 = await rawAdhoc(prosody.componentPort, 1);
  const raw16 = await rawAdhoc(prosody.componentPort, 16);
  report("1. raw ad-hoc, concurrency 1 (invites/s, p50 ms)", `${fmt(raw1.rate)}/s, p50 ${fmt(raw1.p50, 2)} ms`);
  report("1. raw ad-hoc, concurrency 16 (invites/s, p50 ms)", `${fmt(raw16.rate)}/s, p50 ${fmt(raw16.p50, 2)} ms`);

  // 2. The full path through our HTTP API, the service as a separate process with default logging.
  const storeDir = mkdtempSync(join(tmpdir(), "invites-api-bench-"));
  const keyStore = join(storeDir, "keys.sqlite");
  /** `invites-api serve` as installed (the bin with its shebang flags), logging at info by default. */
  const serve = async (componentPort: number, extra: Record<string, string>) => {
    const port = await freePort();
    const child = spawn(CLI, ["serve"], {
      env: {
        PATH: process.env.PATH,
        KEY_STORE: keyStore,
        COMPONENT_SERVICE: `xmpp://127.0.0.1:${componentPort}`,
        COMPONENT_DOMAIN: SERVICE.domain,
        COMPONENT_SECRET: SERVICE.secret,
        HTTP_PORT: String(port),
        DEFAULT_KEY_RATE: "off",
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
        ...extra,
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    return { child, url: `http://127.0.0.1:${port}` };
  };
  // The measured instance: defaults, but no per-key rate (the load is one key).
  const { child: service, url: serviceUrl } = await serve(prosody.componentPort, {});
  // For the 403 path of a flood: the failed-attempt limit off (it needs no Prosody).
  const { child: unlimited, url: unlimitedUrl } = await serve(await freePort(), { AUTH_FAILURE_LIMIT: "off" });
  // The same flood without the access log line per request, to show what logging costs there.
  const { child: quiet, url: quietUrl } = await serve(await freePort(), { LOG_LEVEL: "warn" });
  const url = serviceUrl;
  try {
    await waitReady(url, 15_000);
    const key = await createKey(keyStore, HOST, "bench");
    // Keys in the query string on both sides: the original answers a Bearer key without one with 500.
    const ours1 = await sequential(`${url}/invites_api?key=${key}`, {});
    const ours16 = await load(`${url}/invites_api?key=${key}`, 16, {});
    report(
      "2. invites-api, concurrency 1 (invites/s, p50/p99 ms)",
      `${fmt(ours1.rate)}/s, ${fmt(ours1.p50, 2)}/${fmt(ours1.p99, 2)} ms (timed per request)`,
    );
    report(
      "2. invites-api, concurrency 16 (invites/s, p50/p99 ms)",
      `${fmt(ours16.rate)}/s, ${ours16.p50}/${ours16.p99} ms  ${JSON.stringify(ours16.statuses)}`,
    );
    // Prosody slows a little as invites pile up in its store: measure the raw rate again after the
    // full path and compare with the mean of both, so neither side gets the fresher store.
    const raw16After = await rawAdhoc(prosody.componentPort, 16);
    const raw1After = await rawAdhoc(prosody.componentPort, 1);
    const rawRate16 = (raw16.rate + raw16After.rate) / 2;
    const rawP50 = (raw1.p50 + raw1After.p50) / 2;
    report(
      "1. raw ad-hoc again, concurrency 1 / 16",
      `${fmt(raw1After.rate)}/s p50 ${fmt(raw1After.p50, 2)} ms / ${fmt(raw16After.rate)}/s`,
    );
    report("2. ratio to raw ad-hoc at 16 (target ≥ 0.95)", fmt(ours16.rate / rawRate16, 2));
    report("2. added p50 latency at 1 over raw ad-hoc (target ≤ 1 ms)", `${fmt(ours1.p50 - rawP50, 2)} ms`);

    // 3. The original module inside Prosody, same Prosody, same load.
    const originalKey = prosody.ctl(["mod_invites_api", "create", HOST, "bench"]).trim().split("\n").at(-1) ?? "";
    const original = `http://127.0.0.1:${prosody.httpPort}/invites_api`;
    const hostHeader = { Host: `${HOST}:${prosody.httpPort}` };
    const orig1 = await sequential(`${original}?key=${originalKey}`, hostHeader);
    const orig16 = await load(`${original}?key=${originalKey}`, 16, hostHeader);
    report(
      "3. mod_invites_api, concurrency 1 (invites/s, p50/p99 ms)",
      `${fmt(orig1.rate)}/s, ${fmt(orig1.p50, 2)}/${fmt(orig1.p99, 2)} ms (timed per request)`,
    );
    report(
      "3. mod_invites_api, concurrency 16 (invites/s, p50/p99 ms)",
      `${fmt(orig16.rate)}/s, ${orig16.p50}/${orig16.p99} ms  ${JSON.stringify(orig16.statuses)}`,
    );
    report("3. ours / original at 16", fmt(ours16.rate / orig16.rate, 2));

    // 4. Bad-key floods: how fast each says no, and what that costs Prosody.
    const badKey = `${parseKey(key)?.id ?? "AAAAAAAA"}/${"x".repeat(32)}`;
    const badOriginal = `${originalKey.split("/")[0]}/${"x".repeat(32)}`;
    let before = cpuSeconds(prosodyPid);
    const floodOurs = await load(`${url}/invites_api?key=${badKey}`, 16, {});
    const prosodyCpuOurs = cpuSeconds(prosodyPid) - before;
    const floodOurs403 = await load(`${unlimitedUrl}/invites_api?key=${badKey}`, 16, {});
    const floodQuiet = await load(`${quietUrl}/invites_api?key=${badKey}`, 16, {});
    before = cpuSeconds(prosodyPid);
    const floodOrig = await load(`${original}?key=${badOriginal}`, 16, hostHeader);
    const prosodyCpuOrig = cpuSeconds(prosodyPid) - before;
    const floodSeconds = SECONDS + 1; // the warm-up second floods too
    report(
      "4. bad-key flood, invites-api defaults (rejected/s, Prosody CPU)",
      `${fmt(floodOurs.rate)}/s, Prosody ${fmt((prosodyCpuOurs / floodSeconds) * 100, 1)}% of a core  ${JSON.stringify(floodOurs.statuses)}`,
    );
    report(
      "4. bad-key flood, defaults but LOG_LEVEL=warn (rejected/s)",
      `${fmt(floodQuiet.rate)}/s  ${JSON.stringify(floodQuiet.statuses)}`,
    );
    report(
      "4. bad-key flood, AUTH_FAILURE_LIMIT=off (rejected/s)",
      `${fmt(floodOurs403.rate)}/s  ${JSON.stringify(floodOurs403.statuses)}`,
    );
    report(
      "4. bad-key flood, mod_invites_api (rejected/s, Prosody CPU)",
      `${fmt(floodOrig.rate)}/s, Prosody ${fmt((prosodyCpuOrig / floodSeconds) * 100, 1)}% of a core  ${JSON.stringify(floodOrig.statuses)}`,
    );
    report(
      "4. ours / original rejection rate (target ≥ 4)",
      `${fmt(floodOurs.rate / floodOrig.rate, 2)} with defaults, ${fmt(floodOurs403.rate / floodOrig.rate, 2)} with the limit off`,
    );
    report("6. service peak RSS under load (target < 100 MB)", `${fmt(peakRssMb(service.pid ?? 0), 1)} MB`);
  } finally {
    for (const child of [service, unlimited, quiet]) {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
  }

  // 5. Key-store scale: verify latency with 10 and SCALE keys, list time at SCALE.
  for (const count of [10, SCALE]) {
    const backend = await openKeyBackend(join(mkdtempSync(join(tmpdir(), "invites-api-scale-")), "keys.sqlite"));
    const keys = createKeyStore(backend.keyv, backend.usage);
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
      `5. verify with ${fmt(count)} keys (p50/p99 ms)`,
      `${fmt(percentile(times, 0.5), 3)}/${fmt(percentile(times, 0.99), 3)} ms (store filled in ${fmt(fillSeconds, 1)} s)`,
    );
    if (count === SCALE) {
      const t = performance.now();
      const listed = await keys.list(HOST);
      report(
        `5. list with ${fmt(count)} keys`,
        `${fmt((performance.now() - t) / 1_000, 2)} s for ${fmt(listed.length)} keys`,
      );
    }
    await keys.close();
  }

  await prosody.dispose();
  await sleep(10);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
