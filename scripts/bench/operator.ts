// Issue 30: operator controls. One Prosody (SQL storage) with mod_invites_manage and the service, a
// webhook receiver on loopback:
//  (a) POST /invites/batch of `batch` account invites with refs: the time, invites/s and each
//      process's CPU per invite; the issue's target (1,000 in ≤ 10 s) printed beside, met or missed;
//  (b) expiry-event latency: `expiring` invites made through the API with a short ttl, a
//      subscription to invite.expired; from each invite's expiry (its `expires`, whole seconds) to
//      its delivery, p50/p95/max, with the default sweep (15 s) and REDEMPTION_SYNC_MS unless `fast`;
//  (c) what the registration budget's check adds to a registration in Prosody's CPU: `registrations`
//      in-band registrations through invites with no budget, and as many with a budget too large to
//      refuse any, in alternating blocks, the service frozen in each window (so that only the
//      registrations are in it).
// Asserts only that the answers are right (every invite made with its ref, each expiry delivered
// exactly once and nothing else, no registration refused), never speed.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { MANAGE_MODULES, startProsody } from "../../test/support/prosody.js";
import { startReceiver } from "../../test/support/receiver.js";
import { CLI } from "../../test/support/service.js";
import { createKey, waitReady } from "../../test/support/stack.js";
import { registerWithInvite } from "../../test/support/xmppClient.js";
import type { BatchJson, BudgetJson, InviteJson } from "../../src/http/apiTypes.js";
import { cpuSeconds, fmt, percentile, serveForBench, verdict } from "./measure.js";

const HOST = "operator.bench.test";
const COMPONENT = { domain: "invites.operator.bench.test", secret: "bench-operator-secret" };
/** The issue's target: 1,000 invites in one batch within 10 s on the bench machine. */
const TARGET = { invites: 1_000, seconds: 10 };
/** Registrations in flight at once. */
const CONCURRENCY = 8;
/** Far more than any run registers: the check runs, and refuses nothing. */
const LARGE_BUDGET = { count: 1_000_000, window_seconds: 86_400 };

export interface OperatorOptions {
  /** Invites per batch in (a), and how many batches. */
  readonly batch: number;
  readonly batches: number;
  /** Invites expiring in (b), and their ttl in seconds. */
  readonly expiring: number;
  readonly ttl: number;
  /**
   * (b) with a sweep every second and REDEMPTION_SYNC_MS=1000 instead of the defaults (15 s and
   * 60 s): for --smoke, which checks the answers only and must stay quick.
   */
  readonly fast: boolean;
  /** Registrations per variant in (c), in `blocks` blocks per variant. */
  readonly registrations: number;
  readonly blocks: number;
  readonly report: (label: string, value: string) => void;
}

const loadAverage = () =>
  loadavg()
    .map((l) => fmt(l, 2))
    .join(" ");
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

export async function operator(opts: OperatorOptions): Promise<void> {
  const { report } = opts;
  const dir = mkdtempSync(join(tmpdir(), "invites-api-operator-"));
  const keyStore = join(dir, "keys.sqlite");
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const prosody = await startProsody({
      hosts: [HOST],
      components: [COMPONENT],
      admins: [],
      storage: "sql",
      hostOptions: {
        [HOST]: {
          modules: MANAGE_MODULES,
          lines: [
            `invites_manage_jids = { "${COMPONENT.domain}" }`,
            ...(opts.fast ? ["invites_manage_expiry_sweep = 1"] : []),
          ],
        },
      },
      logLevel: "info",
    });
    stops.push(() => prosody.dispose());
    const receiver = await startReceiver();
    stops.push(() => receiver.stop());
    const service = await serveForBench(keyStore, prosody.componentPort, COMPONENT, {
      MANAGE_RATE: "off",
      ...(opts.fast ? { REDEMPTION_SYNC_MS: "1000" } : {}),
    });
    stops.push(() => service.stop());
    await waitReady(service.url, 15_000);
    const key = await createKey(keyStore, HOST, "bench", "--scope", "manage");
    const pid = () => prosody.pid() ?? 0;
    console.log(
      `Prosody: ${/Prosody version \S+/.exec(prosody.log())?.[0] ?? "?"}, SQL storage (SQLite); ` +
        `load average at the start: ${loadAverage()}`,
    );

    async function call<T>(method: string, path: string, body: unknown, expected: number): Promise<T> {
      const res = await fetch(`${service.url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status !== expected) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
      return JSON.parse(text) as T;
    }
    /** One batch of `count` account invites, each with its ref; every one made, in order. */
    async function batch(count: number, prefix: string, ttl?: number): Promise<InviteJson[]> {
      const asked = Array.from({ length: count }, (_, i) => ({ kind: "account", ref: `${prefix} ${i}`, ttl }));
      const body = await call<BatchJson>("POST", "/invites/batch", { invites: asked }, 201);
      const made = body.invites.map((entry) => ("invite" in entry ? entry.invite : undefined));
      const refsInOrder = made.every((invite, i) => invite?.ref === asked[i]?.ref);
      if (body.created !== count || !refsInOrder || new Set(made.map((i) => i?.id)).size !== count) {
        throw new Error(`batch of ${count}: ${body.created} made, refs in order: ${refsInOrder}`);
      }
      return made as InviteJson[];
    }
    /** Many invites, in batches of at most the issue's 1,000. */
    async function invites(count: number, prefix: string, ttl?: number): Promise<InviteJson[]> {
      const all: InviteJson[] = [];
      for (let from = 0; from < count; from += TARGET.invites) {
        all.push(...(await batch(Math.min(TARGET.invites, count - from), `${prefix} ${from}`, ttl)));
      }
      return all;
    }

    // (a) Batches.
    const times: number[] = [];
    for (let round = 0; round < opts.batches; round += 1) {
      const cpu = [cpuSeconds(service.pid), cpuSeconds(pid())];
      const started = performance.now();
      await batch(opts.batch, `person ${round}`);
      const seconds = (performance.now() - started) / 1_000;
      const [serviceCpu = NaN, prosodyCpu = NaN] = [service.pid, pid()].map((p, i) => cpuSeconds(p) - (cpu[i] ?? 0));
      times.push(seconds);
      report(
        `(a) POST /invites/batch, ${fmt(opts.batch)} account invites with refs (${round + 1})`,
        `${fmt(seconds, 2)} s, ${fmt(opts.batch / seconds)} invites/s; CPU per invite: service ` +
          `${fmt((serviceCpu / opts.batch) * 1_000, 2)} ms, Prosody ${fmt((prosodyCpu / opts.batch) * 1_000, 2)} ms`,
      );
    }
    const median = percentile(sorted(times), 0.5);
    report(
      `(a) ${fmt(opts.batch)} invites in one batch, median of ${opts.batches} runs`,
      opts.batch === TARGET.invites
        ? verdict(`${fmt(median, 2)} s`, median, "≤", TARGET.seconds, " s")
        : `${fmt(median, 2)} s (the target, ${fmt(TARGET.invites)} in ≤ ${TARGET.seconds} s, needs the full run)`,
    );

    // (b) Expiry events: each invite's expiry to its invite.expired at the receiver.
    const subscribed = execFileSync(
      process.execPath,
      [
        CLI,
        "webhook",
        "add",
        HOST,
        `${receiver.url}/expired`,
        "--allow-http",
        "--allow-private",
        "--events",
        "invite.expired",
      ],
      { env: { ...process.env, KEY_STORE: keyStore }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    if (!/^webhook \S+ of /m.test(subscribed)) throw new Error(`webhook add: ${subscribed}`);
    const arrivals = new Map<string, number[]>();
    receiver.answer = (r) => {
      const event = JSON.parse(r.body) as { type: string; data: { invite: string } };
      const id = event.type === "invite.expired" ? event.data.invite : `${event.type}?`;
      arrivals.set(id, [...(arrivals.get(id) ?? []), Date.now()]);
      return 204;
    };
    const expiring = await invites(opts.expiring, "expiring", opts.ttl);
    const lastExpiry = Math.max(...expiring.map((i) => i.expires)) * 1_000;
    const expiringIds = new Set(expiring.map((i) => i.id));
    await receiver.until(() => [...expiringIds].every((id) => arrivals.has(id)), 180_000);
    const latencies = sorted(expiring.map((i) => (arrivals.get(i.id)?.[0] ?? NaN) - i.expires * 1_000));
    const p = (q: number) => fmt(percentile(latencies, q) / 1_000, 1);
    console.log(
      `(b) ${fmt(opts.expiring)} invites with a ttl of ${opts.ttl} s, ` +
        (opts.fast
          ? "a sweep every second, REDEMPTION_SYNC_MS=1000:"
          : "the default sweep (15 s) and REDEMPTION_SYNC_MS:"),
    );
    report(
      "(b) each invite's expiry → its invite.expired received",
      `p50 ${p(0.5)} s, p95 ${p(0.95)} s, max ${fmt((latencies.at(-1) ?? NaN) / 1_000, 1)} s`,
    );
    const lastArrival = Math.max(...[...arrivals.values()].flat());
    report("(b) the last expiry → the last invite.expired", `${fmt((lastArrival - lastExpiry) / 1_000, 1)} s`);

    // (c) The budget check: Prosody's CPU per registration, no budget / a large one, in turns.
    const costs: Record<"none" | "budget", number[]> = { none: [], budget: [] };
    let registered = 0;
    const perBlock = Math.ceil(opts.registrations / opts.blocks);
    for (let block = 0; block < opts.blocks; block += 1) {
      // none, budget; budget, none; …: neither side always goes first.
      const order = block % 2 === 0 ? (["none", "budget"] as const) : (["budget", "none"] as const);
      for (const variant of order) {
        const budget = await call<BudgetJson>(
          "PATCH",
          "/budget",
          { limit: variant === "budget" ? LARGE_BUDGET : null },
          200,
        );
        if ((budget.limit === null) !== (variant === "none")) throw new Error(`budget: ${JSON.stringify(budget)}`);
        const tokens = (await invites(perBlock, `reg ${block} ${variant}`)).map((i) => i.id);
        const first = registered;
        registered += perBlock;
        // Frozen, the service stays connected but reads the records only after the window.
        service.child.kill("SIGSTOP");
        const before = cpuSeconds(pid());
        try {
          let next = 0;
          const worker = async () => {
            for (let i = next++; i < perBlock; i = next++) {
              await registerWithInvite({
                port: prosody.c2sPort,
                domain: HOST,
                token: tokens[i] ?? "",
                username: `u${first + i}`,
                password: "bench-password-1",
                timeoutMs: 60_000,
              });
            }
          };
          await Promise.all(Array.from({ length: Math.min(CONCURRENCY, perBlock) }, worker));
          costs[variant].push(((cpuSeconds(pid()) - before) / perBlock) * 1_000);
        } finally {
          service.child.kill("SIGCONT");
        }
        await sleep(500); // the service reads what the block left before the next one starts
      }
    }
    const used = await call<BudgetJson>("PATCH", "/budget", { limit: null }, 200);
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const differences = costs.budget.map((b, i) => b - (costs.none[i] ?? NaN));
    report(
      "(c) Prosody CPU per registration: no budget / a large one",
      `${fmt(mean(costs.none), 2)} / ${fmt(mean(costs.budget), 2)} ms (${fmt(perBlock * opts.blocks)} each, ${opts.blocks} block${opts.blocks === 1 ? "" : "s"})`,
    );
    report(
      "(c) the budget's check and count, added per registration",
      `${fmt(mean(costs.budget) - mean(costs.none), 2)} ms (median of the blocks' differences ` +
        `${fmt(percentile(sorted(differences), 0.5), 2)} ms; per block, none / budget: ` +
        `${costs.none.map((n, i) => `${fmt(n, 2)}/${fmt(costs.budget[i] ?? NaN, 2)}`).join(", ")})`,
    );
    if (used.paused) throw new Error("the host is paused");

    // Exactly once: by now (c) has run, so the sweep and the service's reads have gone round again.
    const extra = [...arrivals.entries()].filter(([id, at]) => !expiringIds.has(id) || at.length !== 1);
    if (extra.length > 0) {
      throw new Error(
        `expected one invite.expired per expired invite and nothing else; got ${extra
          .slice(0, 5)
          .map(([id, at]) => `${id} × ${at.length}`)
          .join(", ")}`,
      );
    }
    report("(b) invite.expired deliveries, each invite once, nothing else", fmt(arrivals.size));
    console.log(`load average at the end: ${loadAverage()}`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
