// Issue 17: GET /invites, paged, against a real Prosody holding N pending invites. Each page makes
// mod_invites_manage read every pending invite of the host, so Prosody's cost per page grows with N;
// this measures by how much, whether the service's memory stays flat while clients list, and how
// much a bystander making invites is slowed meanwhile. Asserts only correctness (pages no longer
// than `limit`, every invite seen once on a walk), never timing.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { component, xml } from "@xmpp/component";
import { MANAGE_MODULES, startProsody, type RunningProsody } from "../../test/support/prosody.js";
import { createKey, waitReady } from "../../test/support/stack.js";
import { cpuSeconds, fmt, percentile, serveForBench, verdict, type Started } from "./measure.js";

const HOST = "list.bench.test";
const FILLER = { domain: "filler.list.bench.test", secret: "bench-filler-secret" };
/** Two instances of the service: MANAGE_RATE off (the worst case) and at its default. */
const UNLIMITED = { domain: "invites.list.bench.test", secret: "bench-list-secret" };
const RATED = { domain: "rated.list.bench.test", secret: "bench-rated-secret" };
const CREATE_NODE = "xmpp:invites-api/mod_invites_manage#create-account";
const CLIENTS = 4;
const PAGES_MEASURED = 20;
/** The bystander makes one invite every this many ms, so that it barely adds to N. */
const BYSTANDER_EVERY_MS = 40;

export interface ListingOptions {
  readonly sizes: readonly number[];
  /** Seconds of each load (memory and bystander cases). */
  readonly seconds: number;
  readonly report: (label: string, value: string) => void;
  /** Leave Prosody's Nagle algorithm on (its default) instead of off, as prosody-config ships it. */
  readonly nagle?: boolean;
}

interface Answer {
  readonly status: number;
  readonly body: Buffer;
  readonly link?: string;
  readonly retryAfter?: number;
  readonly ms: number;
}

/** One HTTP request on a keep-alive agent, timed here. */
function call(agent: Agent, url: string, headers: Record<string, string>, method = "GET"): Promise<Answer> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks),
          link: [res.headers.link ?? []].flat()[0],
          retryAfter: res.headers["retry-after"] ? Number(res.headers["retry-after"]) : undefined,
          ms: performance.now() - t,
        }),
      );
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer within 30 s from ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

/** A lister: its own key and connection; checks every page it gets, and remembers the biggest. */
function lister(baseUrl: string, key: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const headers = { Authorization: `Bearer ${key}` };
  let biggest = 0;
  async function page(path: string, limit: number): Promise<{ ids: string[]; next?: string; answer: Answer }> {
    const answer = await call(agent, `${baseUrl}${path}`, headers);
    if (answer.status !== 200) return { ids: [], answer };
    const items = JSON.parse(answer.body.toString("utf8")) as Array<{ id: string }>;
    if (items.length > limit) throw new Error(`GET ${path}: ${items.length} invites on a page of ${limit}`);
    biggest = Math.max(biggest, answer.body.length);
    const next = /^<([^>]+)>; rel="next"$/.exec(answer.link ?? "")?.[1];
    return { ids: items.map((item) => item.id), next, answer };
  }
  return {
    page,
    biggest: () => biggest,
    /** Every page once, following Link; the ids in the order seen. */
    async walk(limit: number): Promise<string[]> {
      const ids: string[] = [];
      let path: string | undefined = `/invites?limit=${limit}`;
      while (path) {
        const got = await page(path, limit);
        if (got.answer.status !== 200) throw new Error(`GET ${path}: ${got.answer.status}`);
        ids.push(...got.ids);
        path = got.next;
      }
      return ids;
    },
    /** Walks again and again until `end`; after a 429, waits as Retry-After says. */
    async listUntil(end: number, limit: number): Promise<{ pages: number; refused: number }> {
      let pages = 0;
      let refused = 0;
      let path: string | undefined;
      while (performance.now() < end) {
        const got = await page(path ?? `/invites?limit=${limit}`, limit);
        if (got.answer.status === 429) {
          refused += 1;
          await sleep(Math.min((got.answer.retryAfter ?? 1) * 1_000, Math.max(0, end - performance.now())));
          continue;
        }
        if (got.answer.status !== 200) throw new Error(`GET /invites: ${got.answer.status}`);
        pages += 1;
        path = got.next;
      }
      return { pages, refused };
    },
    close: () => agent.destroy(),
  };
}

/** Brings the host's pending invites up to `target`, through the module's own command, 16 at a time. */
async function fill(componentPort: number, from: number, target: number): Promise<number> {
  const xmpp = component({
    service: `xmpp://127.0.0.1:${componentPort}`,
    domain: FILLER.domain,
    password: FILLER.secret,
  });
  xmpp.on("error", () => {});
  await xmpp.start();
  const started = performance.now();
  try {
    let made = from;
    const submit = () =>
      xmpp.iqCaller.request(
        xml(
          "iq",
          { type: "set", to: HOST },
          xml(
            "command",
            { xmlns: "http://jabber.org/protocol/commands", node: CREATE_NODE, action: "execute" },
            xml("x", { xmlns: "jabber:x:data", type: "submit" }),
          ),
        ),
        30_000,
      );
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (made < target) {
          made += 1;
          await submit();
        }
      }),
    );
    return (performance.now() - started) / 1_000;
  } finally {
    await xmpp.stop().catch(() => undefined);
  }
}

/** Resident set size now, in MB (VmRSS). */
function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;
}

const serve = (keyStore: string, prosody: RunningProsody, as: typeof UNLIMITED, manageRate?: string) =>
  serveForBench(keyStore, prosody.componentPort, as, manageRate ? { MANAGE_RATE: manageRate } : {});

interface Latencies {
  readonly p50: number;
  readonly p95: number;
  readonly count: number;
}

/** The bystander: one POST /invites_api every BYSTANDER_EVERY_MS for `seconds`, each timed. */
async function bystander(url: string, key: string, seconds: number): Promise<Latencies> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const post = async () => {
      const answer = await call(agent, `${url}/invites_api?key=${key}`, {});
      if (answer.status !== 201) throw new Error(`bystander: expected 201, got ${answer.status}`);
      return answer.ms;
    };
    for (let i = 0; i < 5; i += 1) await post();
    const times: number[] = [];
    const end = performance.now() + seconds * 1_000;
    while (performance.now() < end) {
      const next = performance.now() + BYSTANDER_EVERY_MS;
      times.push(await post());
      await sleep(Math.max(0, next - performance.now()));
    }
    times.sort((a, b) => a - b);
    return { p50: percentile(times, 0.5), p95: percentile(times, 0.95), count: times.length };
  } finally {
    agent.destroy();
  }
}

/** CLIENTS listers walking continuously for `seconds`, while `during` runs. */
async function underLoad<T>(
  url: string,
  keys: readonly string[],
  seconds: number,
  during: () => Promise<T>,
  prosodyPid: number,
): Promise<{ result: T; pages: number; refused: number; prosodyShare: number }> {
  const listers = keys.map((key) => lister(url, key));
  const cpuBefore = cpuSeconds(prosodyPid);
  try {
    const end = performance.now() + seconds * 1_000;
    const load = Promise.all(listers.map((l) => l.listUntil(end, 200)));
    const result = await during();
    const counts = await load;
    return {
      result,
      pages: counts.reduce((sum, c) => sum + c.pages, 0),
      refused: counts.reduce((sum, c) => sum + c.refused, 0),
      prosodyShare: (cpuSeconds(prosodyPid) - cpuBefore) / seconds,
    };
  } finally {
    for (const l of listers) l.close();
  }
}

/** Runs the listing measurements on a Prosody of its own; prints as it goes. */
export async function listing(opts: ListingOptions): Promise<void> {
  const { report } = opts;
  const prosody = await startProsody({
    hosts: [HOST],
    components: [FILLER, UNLIMITED, RATED],
    admins: [],
    storage: "sql",
    hostModules: MANAGE_MODULES,
    hostOptions: {
      [HOST]: {
        modules: MANAGE_MODULES,
        lines: [`invites_manage_jids = { "${FILLER.domain}", "${UNLIMITED.domain}", "${RATED.domain}" }`],
      },
    },
    logLevel: "info",
    // As prosody-config/prosody.cfg.lua ships it, unless asked to measure the alternative.
    ...(opts.nagle ? {} : { extra: "network_settings = { nagle = false }" }),
  });
  const storeDir = mkdtempSync(join(tmpdir(), "invites-api-listing-"));
  const keyStore = join(storeDir, "keys.sqlite");
  const started: Started[] = [];
  try {
    const P = prosody.pid() ?? 0;
    const unlimited = await serve(keyStore, prosody, UNLIMITED, "off");
    started.push(unlimited);
    const rated = await serve(keyStore, prosody, RATED);
    started.push(rated);
    await Promise.all([waitReady(unlimited.url, 15_000), waitReady(rated.url, 15_000)]);
    const manageKeys = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => createKey(keyStore, HOST, `lister ${i}`, "--scope", "manage")),
    );
    const createKeyForBystander = await createKey(keyStore, HOST, "bystander");
    const probe = lister(unlimited.url, manageKeys[0] ?? "");

    const rows: string[] = [];
    let pending = 0;
    try {
      for (const n of opts.sizes) {
        const fillSeconds = await fill(prosody.componentPort, pending, n);
        pending = n;
        report(`filled to ${fmt(n)} pending invites`, `${fmt(fillSeconds, 1)} s`);
        const perLimit: string[] = [];
        for (const limit of [50, 200]) {
          for (let i = 0; i < 2; i += 1) await probe.page(`/invites?limit=${limit}`, limit); // warm-up
          const times: number[] = [];
          const before = cpuSeconds(P);
          const serviceBefore = cpuSeconds(unlimited.pid);
          for (let i = 0; i < PAGES_MEASURED; i += 1) {
            const got = await probe.page(`/invites?limit=${limit}`, limit);
            if (got.answer.status !== 200) throw new Error(`GET /invites: ${got.answer.status}`);
            times.push(got.answer.ms);
          }
          const cpuMs = ((cpuSeconds(P) - before) / PAGES_MEASURED) * 1_000;
          const serviceMs = ((cpuSeconds(unlimited.pid) - serviceBefore) / PAGES_MEASURED) * 1_000;
          times.sort((a, b) => a - b);
          perLimit.push(fmt(cpuMs, 1), fmt(serviceMs, 1), fmt(percentile(times, 0.5), 1));
        }
        const walkStarted = performance.now();
        const ids = await probe.walk(200);
        const walkSeconds = (performance.now() - walkStarted) / 1_000;
        const unique = new Set(ids).size;
        if (ids.length !== n || unique !== n) {
          throw new Error(`walk at N=${n}: ${ids.length} invites, ${unique} distinct, expected ${n} once each`);
        }
        rows.push(
          [fmt(n), ...perLimit, fmt(probe.biggest()), `${fmt(ids.length)} in ${fmt(walkSeconds, 1)} s`].join(" | "),
        );
      }
    } finally {
      probe.close();
    }
    console.log(
      "N | limit 50: Prosody / service CPU ms/page | p50 ms | limit 200: Prosody / service | p50 ms | biggest body, bytes | walk (limit 200)",
    );
    for (const row of rows) console.log(row);

    const n = pending;
    const alone = await bystander(unlimited.url, createKeyForBystander, opts.seconds);
    report("bystander POST /invites_api alone, p50/p95", `${fmt(alone.p50, 2)}/${fmt(alone.p95, 2)} ms`);

    // The worst case, and the service's memory meanwhile.
    const rssBefore = rssMb(unlimited.pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(unlimited.pid))), 200);
    let worst;
    try {
      worst = await underLoad(
        unlimited.url,
        manageKeys,
        opts.seconds,
        () => bystander(unlimited.url, createKeyForBystander, opts.seconds),
        P,
      );
    } finally {
      clearInterval(sampler);
    }
    await sleep(2_000);
    const rssAfter = rssMb(unlimited.pid);
    report(
      `service RSS at N=${fmt(n)}: before / peak during ${CLIENTS} listers / 2 s after`,
      `${fmt(rssBefore, 1)} / ${fmt(rssPeak, 1)} / ${fmt(rssAfter, 1)} MB`,
    );
    const rated4 = await underLoad(
      rated.url,
      manageKeys,
      opts.seconds,
      () => bystander(rated.url, createKeyForBystander, opts.seconds),
      P,
    );
    for (const [name, run] of [
      ["MANAGE_RATE=off", worst],
      ["MANAGE_RATE default (60/1m per key)", rated4],
    ] as const) {
      const b = run.result;
      report(
        `${CLIENTS} listers, ${name}: pages listed / refused (429)`,
        `${fmt(run.pages)} / ${fmt(run.refused)} in ${opts.seconds} s, Prosody ${fmt(run.prosodyShare * 100)}% of a core`,
      );
      report(
        `  bystander p50/p95 (÷ alone)`,
        `${fmt(b.p50, 2)}/${fmt(b.p95, 2)} ms (${fmt(b.p50 / alone.p50, 1)}× / ${fmt(b.p95 / alone.p95, 1)}×)`,
      );
      report(`  bystander p50 ÷ alone`, verdict(fmt(b.p50 / alone.p50, 1), b.p50 / alone.p50, "≤", 3));
      report(`  bystander p95 ÷ alone`, verdict(fmt(b.p95 / alone.p95, 1), b.p95 / alone.p95, "≤", 3));
    }
  } finally {
    await Promise.allSettled(started.map((s) => s.stop()));
    await prosody.dispose();
    rmSync(storeDir, { recursive: true, force: true });
  }
}
