// Issue 19: webhooks. How many events one instance delivers per second to a local receiver (the
// outbox filled first, then drained from a cold start), and the added latency from a registration
// (the client's answer) to its invite.redeemed arriving at the receiver. Asserts only that every
// event arrived, never timing.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { MANAGE_MODULES, startProsody } from "../../test/support/prosody.js";
import { startReceiver } from "../../test/support/receiver.js";
import { CLI } from "../../test/support/service.js";
import { createKey, waitReady } from "../../test/support/stack.js";
import { registerWithInvite } from "../../test/support/xmppClient.js";
import { openStore } from "../../src/store/open.js";
import { deliveriesFor } from "../../src/webhooks/events.js";
import { fmt, percentile, serveForBench, type Started } from "./measure.js";

const HOST = "hooks.bench.test";
const COMPONENT = { domain: "invites.hooks.bench.test", secret: "bench-hooks-secret" };

export interface WebhookBenchOptions {
  /** Events queued for the throughput case. */
  readonly events: number;
  /** Registrations timed one after another for the latency case. */
  readonly registrations: number;
  readonly report: (label: string, value: string) => void;
}

const serve = (keyStore: string, componentPort: number): Promise<Started & { url: string }> =>
  serveForBench(keyStore, componentPort, COMPONENT);

function subscribe(keyStore: string, url: string, events: string): string {
  const out = execFileSync(
    process.execPath,
    [CLI, "webhook", "add", HOST, url, "--allow-http", "--allow-private", "--events", events],
    { env: { ...process.env, KEY_STORE: keyStore }, encoding: "utf8" },
  );
  return /^webhook (\S+) of /.exec(out)?.[1] ?? "";
}

export async function webhooks(opts: WebhookBenchOptions): Promise<void> {
  const { report } = opts;
  const prosody = await startProsody({
    hosts: [HOST],
    components: [COMPONENT],
    admins: [],
    storage: "sql",
    hostModules: MANAGE_MODULES,
    hostOptions: { [HOST]: { modules: MANAGE_MODULES, lines: [`invites_manage_jids = { "${COMPONENT.domain}" }`] } },
    logLevel: "info",
  });
  const receiver = await startReceiver();
  const storeDir = mkdtempSync(join(tmpdir(), "invites-api-hooks-"));
  const keyStore = join(storeDir, "keys.sqlite");
  let service: (Started & { url: string }) | undefined;
  try {
    const key = await createKey(keyStore, HOST, "bench", "--scope", "manage");

    // Throughput: the outbox holds `events` deliveries before the service starts; it drains them.
    const burst = subscribe(keyStore, `${receiver.url}/burst`, "invite.created");
    const backend = await openStore(keyStore);
    try {
      const [subscription] = await backend.webhooks.listSubscriptions(HOST);
      if (!subscription || subscription.id !== burst) throw new Error("the subscription is not in the store");
      const now = Date.now();
      const deliveries = Array.from({ length: opts.events }, (_, i) =>
        deliveriesFor(
          [subscription],
          `bench\n${i}`,
          {
            type: "invite.created",
            timestamp: new Date(now).toISOString(),
            data: { host: HOST, invite: `bench${i}`, key: null },
          },
          now,
        ),
      ).flat();
      await backend.webhooks.enqueue(deliveries);
    } finally {
      await backend.close();
    }
    const arrivals: number[] = [];
    receiver.answer = () => {
      arrivals.push(performance.now());
      return 204;
    };
    service = await serve(keyStore, prosody.componentPort);
    await waitReady(service.url, 15_000);
    await receiver.until((got) => got.filter((r) => r.path === "/burst").length >= opts.events, 600_000);
    const first = arrivals[0] ?? 0;
    const last = arrivals[opts.events - 1] ?? 0;
    const seconds = (last - first) / 1_000;
    report("webhook throughput: events delivered", String(opts.events));
    report(
      "webhook throughput: events/s (first to last arrival)",
      fmt(seconds > 0 ? (opts.events - 1) / seconds : NaN, 0),
    );
    const ids = new Set(
      receiver.received.filter((r) => r.path === "/burst").map((r) => String(r.headers["webhook-id"])),
    );
    if (ids.size !== opts.events) throw new Error(`expected ${opts.events} distinct deliveries, got ${ids.size}`);

    // Latency: each registration's answer to the client, then its invite.redeemed at the receiver.
    subscribe(keyStore, `${receiver.url}/redeemed`, "invite.redeemed");
    const arrivedAt = new Map<string, number>();
    receiver.answer = (r) => {
      if (r.path === "/redeemed")
        arrivedAt.set((JSON.parse(r.body) as { data: { jid: string } }).data.jid, performance.now());
      return 204;
    };
    const latencies: number[] = [];
    for (let i = 0; i < opts.registrations; i += 1) {
      const res = await fetch(`${service.url}/invites/account`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: "{}",
      });
      const invite = (await res.json()) as { id: string };
      const username = `lat${i}`;
      await registerWithInvite({
        port: prosody.c2sPort,
        domain: HOST,
        token: invite.id,
        username,
        password: "bench-password-1",
      });
      const registered = performance.now();
      const jid = `${username}@${HOST}`;
      await receiver.until(() => arrivedAt.has(jid), 30_000);
      latencies.push((arrivedAt.get(jid) ?? registered) - registered);
    }
    latencies.sort((a, b) => a - b);
    report("webhook latency, registration answered → invite.redeemed received", `${latencies.length} registrations`);
    report("  p50 ms", fmt(percentile(latencies, 0.5), 1));
    report("  p99 ms", fmt(percentile(latencies, 0.99), 1));
    report("  max ms", fmt(latencies.at(-1) ?? NaN, 1));
  } finally {
    await service?.stop();
    await receiver.stop();
    await prosody.dispose();
    rmSync(storeDir, { recursive: true, force: true });
  }
}
