// Issue 18: what the history of invites costs Prosody.
// 1. The registration hooks of mod_invites_manage (the prune, a redemption record, the invite's
//    history item closed, an arrival, a <message/> to the component): Prosody's CPU per in-band
//    registration through an invite, with the module loaded and without it. The baseline is a
//    Prosody with the invite modules alone, whose invites an admin makes with mod_invites_adhoc's
//    own command, so that the difference is the module's. Both Prosodys register at the same time
//    (paired runs: the same machine conditions for both). With the module twice: the service
//    frozen (SIGSTOP: the hooks alone, the service reads the records after the window) and live
//    (the hooks and the service reading the records they tell it about).
// 2. GET /invites?state=used with N used invites, paged: Prosody's and the service's CPU and the
//    latency of the first page, a page in the middle (reached by following Link) and the last page,
//    and a full walk. A Prosody with the small N and one with the large N are measured in turns,
//    in short bursts, so that both see the same machine; then expired, revoked and pending.
// Asserts only correctness (pages no longer than `limit`, each invite in the state asked for,
// every invite seen once on a walk, every registration counted by the service), never timing.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { component, xml } from "@xmpp/component";
import { INVITE_MODULES, MANAGE_MODULES, startProsody, type RunningProsody } from "../../test/support/prosody.js";
import { createKey, waitReady } from "../../test/support/stack.js";
import { registerWithInvite } from "../../test/support/xmppClient.js";
import { cpuSeconds, fmt, percentile, serveForBench, type Started } from "./measure.js";

/** The Prosodys with mod_invites_manage (large N and small N), each with a service of its own. */
const BIG = { host: "big.history.bench.test", domain: "invites.big.history.bench.test", secret: "bench-big-secret" };
const SMALL = {
  host: "small.history.bench.test",
  domain: "invites.small.history.bench.test",
  secret: "bench-small-secret",
};
/** The baseline Prosody (invite modules only), and the admin component that makes its invites. */
const BASE = { host: "base.bench.test", domain: "maker.base.bench.test", secret: "bench-maker-secret" };
/** Registrations, and invites made, in flight at once (per Prosody). */
const CONCURRENCY = 16;
const PASSWORD = "bench-password-1";
/**
 * Extra global lines for every Prosody here, e.g. `network_settings = { nagle = false }` to see
 * what Nagle's algorithm costs the answers larger than 8 KB (see BENCHMARKS.md).
 */
const PROSODY_EXTRA = process.env.BENCH_PROSODY_EXTRA ?? "";
const loadAverage = () =>
  loadavg()
    .map((l) => fmt(l, 2))
    .join(" ");

export interface HistoryOptions {
  /** Registrations per measured run of part 1 (on each Prosody of the pair). */
  readonly registrations: number;
  /** Paired runs of each variant of part 1. */
  readonly runs: number;
  /** Used invites on the small and on the large Prosody. */
  readonly small: number;
  readonly large: number;
  /** Registrations per step while filling the large one (each step measured, beside the baseline). */
  readonly step: number;
  /** Expired, revoked and pending invites each, for the comparison at the large size (0: none). */
  readonly others: number;
  /** Turns of the page measurements, and requests per page in each turn. */
  readonly rounds: number;
  readonly burst: number;
  readonly report: (label: string, value: string) => void;
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly link?: string;
  readonly ms: number;
}

/**
 * One HTTP request on a keep-alive agent, timed here. A kept socket the service closed meanwhile
 * (its keep-alive timeout; all at once after a SIGCONT) fails before the request reaches it: the
 * request is sent again, on another socket, up to `retries` times.
 */
function call(
  agent: Agent,
  url: string,
  opts: { method?: string; headers?: Record<string, string>; json?: unknown } = {},
  retries = CONCURRENCY,
): Promise<Answer> {
  const t = performance.now();
  const body = opts.json === undefined ? undefined : JSON.stringify(opts.json);
  const headers = { ...(opts.headers ?? {}), ...(body === undefined ? {} : { "Content-Type": "application/json" }) };
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers, method: opts.method ?? "GET" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString("utf8"),
          link: [res.headers.link ?? []].flat()[0],
          ms: performance.now() - t,
        }),
      );
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer within 60 s from ${url}`)));
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (retries > 0 && req.reusedSocket && err.code === "ECONNRESET") resolve(call(agent, url, opts, retries - 1));
      else reject(err);
    });
    req.end(body);
  });
}

/** Runs `work(i)` for i = 0 … count − 1, `CONCURRENCY` at a time. */
async function parallel(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

interface Cost {
  /** CPU ms per unit of Prosody, and of the service when one was watched. */
  readonly prosody: number;
  readonly service: number;
  readonly seconds: number;
}

/** Prosody's CPU (and the service's, when given) over `work`, in ms per `count`. */
async function cpuPer(prosodyPid: number, servicePid: number | undefined, count: number, work: () => Promise<void>) {
  const p = cpuSeconds(prosodyPid);
  const s = servicePid ? cpuSeconds(servicePid) : 0;
  const t = performance.now();
  await work();
  const seconds = (performance.now() - t) / 1_000;
  const cost: Cost = {
    prosody: ((cpuSeconds(prosodyPid) - p) / count) * 1_000,
    service: servicePid ? ((cpuSeconds(servicePid) - s) / count) * 1_000 : NaN,
    seconds,
  };
  return cost;
}

/** Resident set size now, in MB (VmRSS). */
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;

const median = (values: readonly number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

/** A Prosody that accounts are registered on, and how its invites are made. */
interface Side {
  readonly prosody: RunningProsody;
  /** Prosody's process (a new one after a restart). */
  readonly pid: number;
  readonly host: string;
  /** Accounts registered so far. */
  registered: number;
  /** `count` fresh invite tokens. */
  makeInvites(count: number): Promise<string[]>;
}

/** Registers one account per token, `CONCURRENCY` at a time. */
async function registerAll(side: Side, tokens: readonly string[]): Promise<void> {
  const first = side.registered;
  side.registered += tokens.length;
  await parallel(tokens.length, (i) =>
    registerWithInvite({
      port: side.prosody.c2sPort,
      domain: side.host,
      token: tokens[i] ?? "",
      username: `u${first + i}`,
      password: PASSWORD,
      timeoutMs: 60_000,
    }),
  );
}

/** The baseline's invites: mod_invites_adhoc's create-account, run by an admin (a component). */
async function adhocMaker(componentPort: number) {
  const xmpp = component({ service: `xmpp://127.0.0.1:${componentPort}`, domain: BASE.domain, password: BASE.secret });
  xmpp.on("error", () => {});
  await xmpp.start();
  async function one(): Promise<string> {
    const reply = await xmpp.iqCaller.request(
      xml(
        "iq",
        { type: "set", to: BASE.host },
        xml("command", {
          xmlns: "http://jabber.org/protocol/commands",
          node: "urn:xmpp:invite#create-account",
          action: "execute",
        }),
      ),
      60_000,
    );
    const text = reply.toString();
    const token = /preauth=([\w-]+)/.exec(text)?.[1];
    if (!token) throw new Error(`no invite in the reply ${text}`);
    return token;
  }
  return {
    async make(count: number): Promise<string[]> {
      const tokens: string[] = [];
      await parallel(count, async (i) => {
        tokens[i] = await one();
      });
      return tokens;
    },
    stop: () => xmpp.stop().catch(() => undefined),
  };
}

interface Service extends Started {
  readonly url: string;
}

const serve = (keyStore: string, prosody: RunningProsody, as: { domain: string; secret: string }): Promise<Service> =>
  serveForBench(keyStore, prosody.componentPort, as, { MANAGE_RATE: "off" });

/** A Prosody with mod_invites_manage and its service, reached with a manage key. */
interface Managed extends Side {
  readonly service: Service;
  readonly auth: Record<string, string>;
  readonly agent: Agent;
  /** Invites made through the service: POST /invites/account `count` times with `json`. */
  make(count: number, json?: Record<string, unknown>): Promise<string[]>;
  /** Waits until the service has counted every registration so far from the module's records. */
  untilCounted(): Promise<void>;
  restart(): Promise<void>;
}

async function startManaged(which: typeof BIG, storeDir: string, started: Array<() => Promise<unknown>>) {
  const prosody = await startProsody({
    hosts: [which.host],
    components: [which],
    admins: [],
    storage: "sql",
    extra: PROSODY_EXTRA,
    hostOptions: {
      [which.host]: { modules: MANAGE_MODULES, lines: [`invites_manage_jids = { "${which.domain}" }`] },
    },
    logLevel: "info",
  });
  started.push(() => prosody.dispose());
  const keyStore = join(storeDir, `${which.host}.sqlite`);
  const service = await serve(keyStore, prosody, which);
  started.push(() => service.stop());
  await waitReady(service.url, 15_000);
  const auth = { Authorization: `Bearer ${await createKey(keyStore, which.host, "history", "--scope", "manage")}` };
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  started.push(async () => agent.destroy());

  async function make(count: number, json: Record<string, unknown> = {}): Promise<string[]> {
    const ids: string[] = [];
    await parallel(count, async (i) => {
      const answer = await call(agent, `${service.url}/invites/account`, { method: "POST", headers: auth, json });
      if (answer.status !== 201) throw new Error(`POST /invites/account: ${answer.status} ${answer.body}`);
      ids[i] = (JSON.parse(answer.body) as { id: string }).id;
    });
    return ids;
  }
  /** The registrations the service has counted (its metric). */
  async function counted(): Promise<number> {
    const text = (await call(agent, `${service.url}/metrics`)).body;
    const prefix = `invites_api_invites_redeemed_total{host="${which.host}",type="account"}`;
    const line = text.split("\n").find((l) => l.startsWith(prefix));
    return line ? Number(line.split(" ").at(-1)) : 0;
  }
  /** Stops Prosody and starts it again on the same data; resolves once the service is back. */
  async function restart(): Promise<void> {
    await prosody.kill();
    const deadline = performance.now() + 15_000;
    while ((await fetch(`${service.url}/ready`)).status === 200 && performance.now() < deadline) await sleep(50);
    await prosody.start();
    await waitReady(service.url, 30_000);
  }
  const managed: Managed = {
    restart,
    prosody,
    get pid() {
      return prosody.pid() ?? 0;
    },
    host: which.host,
    registered: 0,
    service,
    auth,
    agent,
    make,
    makeInvites: (count) => make(count),
    async untilCounted() {
      const deadline = performance.now() + 120_000;
      for (;;) {
        const seen = await counted();
        if (seen === managed.registered) return;
        if (seen > managed.registered || performance.now() > deadline) {
          throw new Error(`the service counted ${seen} registrations, expected ${managed.registered}`);
        }
        await sleep(20);
      }
    },
  };
  return managed;
}

/** Runs the measurements on Prosodys of their own; prints as it goes. */
export async function history(opts: HistoryOptions): Promise<void> {
  const { report } = opts;
  console.log(
    `load average at the start: ${loadAverage()}${PROSODY_EXTRA ? `; every Prosody here adds: ${PROSODY_EXTRA}` : ""}`,
  );
  const storeDir = mkdtempSync(join(tmpdir(), "invites-api-history-"));
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const baseline = await startProsody({
      hosts: [BASE.host],
      components: [BASE],
      admins: [BASE.domain],
      storage: "sql",
      hostModules: INVITE_MODULES,
      extra: PROSODY_EXTRA,
      logLevel: "info",
    });
    stops.push(() => baseline.dispose());
    const maker = await adhocMaker(baseline.componentPort);
    stops.push(() => maker.stop());
    const big = await startManaged(BIG, storeDir, stops);
    const small = await startManaged(SMALL, storeDir, stops);
    console.log(
      `Prosody: ${/Prosody version \S+/.exec(big.prosody.log())?.[0] ?? "?"}, SQL storage (SQLite), data in ${tmpdir()}`,
    );
    const plain: Side = {
      prosody: baseline,
      get pid() {
        return baseline.pid() ?? 0;
      },
      host: BASE.host,
      registered: 0,
      makeInvites: (count) => maker.make(count),
    };

    type Variant = "hooks" | "live";
    /** One paired run: the baseline and the module's Prosody register at the same time. */
    async function paired(variant: Variant, count: number): Promise<{ baseline: Cost; module: Cost }> {
      const [baseTokens, tokens] = await Promise.all([plain.makeInvites(count), big.makeInvites(count)]);
      const service = big.service;
      // Frozen, the service's component stays connected (so each registration still sends it its
      // message), but it reads the records only after the window.
      if (variant === "hooks") service.child.kill("SIGSTOP");
      try {
        const [baseCost, moduleCost] = await Promise.all([
          cpuPer(plain.pid, undefined, count, () => registerAll(plain, baseTokens)),
          cpuPer(big.pid, variant === "live" ? service.pid : undefined, count, async () => {
            await registerAll(big, tokens);
            if (variant === "live") await big.untilCounted();
          }),
        ]);
        return { baseline: baseCost, module: moduleCost };
      } finally {
        if (variant === "hooks") {
          service.child.kill("SIGCONT");
          await sleep(200); // it closes the kept sockets that timed out while it was frozen
          await big.untilCounted();
        }
      }
    }

    /** Part 1: paired runs of both variants, alternating which comes first. */
    async function registrationCost(when: string): Promise<void> {
      const runs: Record<Variant, Array<{ baseline: Cost; module: Cost }>> = { hooks: [], live: [] };
      for (let r = 0; r < opts.runs; r += 1) {
        for (const variant of r % 2 === 0 ? (["hooks", "live"] as const) : (["live", "hooks"] as const)) {
          runs[variant].push(await paired(variant, opts.registrations));
        }
      }
      console.log(
        `Prosody CPU ms per registration ${when}; ${opts.runs} paired runs × ${opts.registrations} registrations ` +
          "per variant; median (each run: baseline → with the module)",
      );
      for (const [variant, name] of [
        ["hooks", "service frozen (the hooks alone)"],
        ["live", "service live (hooks + its record reads)"],
      ] as const) {
        const list = runs[variant];
        const base = median(list.map((r) => r.baseline.prosody));
        const withModule = median(list.map((r) => r.module.prosody));
        const added = median(list.map((r) => r.module.prosody - r.baseline.prosody));
        const each = list.map((r) => `${fmt(r.baseline.prosody, 2)}→${fmt(r.module.prosody, 2)}`).join(", ");
        const rates = `${fmt(median(list.map((r) => opts.registrations / r.baseline.seconds)))} → ${fmt(median(list.map((r) => opts.registrations / r.module.seconds)))}/s`;
        const service = variant === "live" ? `; service ${fmt(median(list.map((r) => r.module.service)), 2)} ms` : "";
        report(
          `  ${name}`,
          `${fmt(base, 2)} → ${fmt(withModule, 2)} ms, added ${fmt(added, 2)} ms (${fmt((added / base) * 100)}%)${service}; ${rates}`,
        );
        console.log(`    runs: ${each}`);
      }
    }

    // Warm-up: every Prosody has registered and made invites before anything is measured.
    const warm = Math.min(50, opts.step);
    for (const side of [plain, big]) await registerAll(side, await side.makeInvites(warm));
    await big.untilCounted();

    console.log("\n7.1 Prosody CPU per in-band registration through an invite, without and with mod_invites_manage");
    await registrationCost(`(accounts before: ${fmt(plain.registered)} baseline, ${fmt(big.registered)} module)`);

    // The small Prosody, unmeasured; then the large one and the baseline in steps, measured.
    while (small.registered < opts.small) {
      const count = Math.min(opts.step, opts.small - small.registered);
      await registerAll(small, await small.makeInvites(count));
    }
    await small.untilCounted();
    const growth: string[] = [];
    while (big.registered < opts.large) {
      const count = Math.min(opts.step, opts.large - big.registered);
      const cells: string[] = [];
      for (const [side, service] of [
        [big, big],
        [plain, undefined],
      ] as const) {
        let tokens: string[] = [];
        const made = await cpuPer(side.pid, undefined, count, async () => {
          tokens = await side.makeInvites(count);
        });
        const registered = await cpuPer(side.pid, service?.service.pid, count, async () => {
          await registerAll(side, tokens);
          await service?.untilCounted();
        });
        cells.push(fmt(made.prosody, 2), fmt(registered.prosody, 2), fmt(count / registered.seconds));
      }
      growth.push([`${fmt(big.registered)} / ${fmt(plain.registered)}`, ...cells].join(" | "));
    }
    console.log(
      "\nFilling (one step at a time, the module's Prosody then the baseline): Prosody CPU ms per invite made, " +
        "per registration, and registrations/s",
    );
    console.log(
      "accounts after: module / baseline | module: made / registered / rate | baseline: made / registered / rate",
    );
    for (const row of growth) console.log(row);

    // Part 2: pages.
    const header =
      "state | N | limit | first page | middle page | last page | walk: pages, seconds, Prosody CPU ms per page";
    interface Target {
      readonly label: string;
      readonly at: Managed;
      readonly state: string;
      readonly expected: number;
      readonly limit: number;
    }
    const listers = new Map<Managed, Agent>();
    async function page(target: Target, path: string) {
      let agent = listers.get(target.at);
      if (!agent) listers.set(target.at, (agent = new Agent({ keepAlive: true, maxSockets: 1 })));
      const answer = await call(agent, `${target.at.service.url}${path}`, { headers: target.at.auth });
      if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${answer.body}`);
      const items = JSON.parse(answer.body) as Array<{ id: string; state: string }>;
      if (items.length > target.limit)
        throw new Error(`GET ${path}: ${items.length} invites on a page of ${target.limit}`);
      const wrong = items.find((item) => item.state !== target.state);
      if (wrong) throw new Error(`GET ${path}: an invite in state ${wrong.state}, asked for ${target.state}`);
      const next = /^<([^>]+)>; rel="next"$/.exec(answer.link ?? "")?.[1];
      return { ids: items.map((item) => item.id), next, ms: answer.ms };
    }

    /**
     * Each target walked once (every invite once), then its first, middle and last pages measured:
     * all targets in turns, `burst` requests of a page at a time, so that they share the machine.
     */
    async function pages(targets: readonly Target[]): Promise<void> {
      const measured = [];
      for (const target of targets) {
        const paths: string[] = [];
        const seen: string[] = [];
        let path: string | undefined = `/invites?state=${target.state}&limit=${target.limit}`;
        const walk = await cpuPer(target.at.pid, undefined, 1, async () => {
          while (path) {
            paths.push(path);
            const got = await page(target, path);
            seen.push(...got.ids);
            path = got.next;
          }
        });
        const unique = new Set(seen).size;
        if (seen.length !== target.expected || unique !== target.expected) {
          throw new Error(
            `${target.label} walk: ${seen.length} invites, ${unique} distinct, expected ${target.expected} once each`,
          );
        }
        const points = [paths[0]!, paths[Math.floor(paths.length / 2)]!, paths.at(-1)!].map((p) => ({
          path: p,
          prosody: 0,
          service: 0,
          times: [] as number[],
        }));
        for (const point of points) await page(target, point.path); // warm-up
        measured.push({ target, walk, pages: paths.length, points });
      }
      for (let round = 0; round < opts.rounds; round += 1) {
        for (const { target, points } of measured) {
          for (const point of points) {
            const p = cpuSeconds(target.at.pid);
            const s = cpuSeconds(target.at.service.pid);
            for (let i = 0; i < opts.burst; i += 1) point.times.push((await page(target, point.path)).ms);
            point.prosody += cpuSeconds(target.at.pid) - p;
            point.service += cpuSeconds(target.at.service.pid) - s;
          }
        }
      }
      for (const { target, walk, pages: count, points } of measured) {
        const cells = points.map((point) => {
          const n = point.times.length;
          return `${fmt((point.prosody / n) * 1_000, 1)} / ${fmt((point.service / n) * 1_000, 1)} / ${fmt(median(point.times), 1)}`;
        });
        console.log(
          [
            target.label,
            fmt(target.expected),
            String(target.limit),
            ...cells,
            `${count}, ${fmt(walk.seconds, 1)} s, ${fmt(walk.prosody / count, 1)} ms`,
          ].join(" | "),
        );
      }
    }
    const used = (at: Managed, label = "used"): Target[] =>
      [50, 200].map((limit) => ({ label, at, state: "used", expected: at.registered, limit }));

    console.log(
      `\n7.2 GET /invites?state=…, paged. Per page: Prosody CPU ms / service CPU ms / p50 latency ms, ` +
        `${opts.rounds} turns × ${opts.burst} requests; the Prosodys measured in turns`,
    );
    const rss = () => `Prosody RSS: small ${fmt(rssMb(small.pid), 1)} MB, large ${fmt(rssMb(big.pid), 1)} MB`;
    console.log(`Both Prosodys as they are after the registrations (${rss()})`);
    console.log(header);
    await pages([...used(small), ...used(big)]);
    // Prosody 0.12's Lua heap grows with every registration since it started, module or not, and
    // a page (many small allocations) costs more in a bigger heap: the same data, restarted.
    await Promise.all([small.restart(), big.restart()]);
    console.log(`Both restarted on the same data (${rss()})`);
    console.log(header);
    await pages([...used(small), ...used(big)]);
    console.log(`load average: ${loadAverage()}`);

    console.log("");
    await registrationCost(`again (accounts before: ${fmt(plain.registered)} baseline, ${fmt(big.registered)} module)`);

    if (opts.others > 0) {
      // The other states beside used, at the large size; used again, now among them all.
      const n = opts.others;
      await big.make(n, { ttl: 1 });
      const revoked = await big.make(n);
      await parallel(n, async (i) => {
        const answer = await call(big.agent, `${big.service.url}/invites/${revoked[i]}`, {
          method: "DELETE",
          headers: big.auth,
        });
        if (answer.status !== 204) throw new Error(`DELETE /invites/{id}: ${answer.status} ${answer.body}`);
      });
      await big.make(n);
      await sleep(1_100);
      console.log(
        `\nThe other states, ${fmt(n)} invites each made after the used ones (expired, then revoked, then pending), ` +
          `on the large Prosody; used again there (now among ${fmt(big.registered + 3 * n)})`,
      );
      await Promise.all([small.restart(), big.restart()]);
      console.log(`Both restarted first (${rss()})`);
      console.log(header);
      const others = ["expired", "revoked", "pending"].flatMap((state) =>
        [50, 200].map((limit) => ({ label: state, at: big, state, expected: n, limit })),
      );
      await pages([...used(small), ...used(big, "used (again)"), ...others]);
    }
    for (const agent of listers.values()) agent.destroy();
    console.log(`load average at the end: ${loadAverage()}`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(storeDir, { recursive: true, force: true });
  }
}
