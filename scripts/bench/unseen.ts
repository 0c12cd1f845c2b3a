// Issue 26, point 2: what registrations through invites the service may not see (an admin's own)
// cost Prosody on the service's later reads. One Prosody (SQL storage) with mod_invites_manage and
// the service; `visible` registrations through the service's invites, then `unseen` through the
// admin's own (mod_invites_adhoc's command, run by an admin component). Before and after them:
//  - one sync pass from where the service's cursor stands (read from its key store), as the
//    service reads it: the module's `redemptions` command, `calls` times, from a probe component;
//  - GET /invites?state=used&limit=50: the first page `calls` times, and a walk following Link.
// Per call: Prosody's CPU ms and the median latency. Asserts only that the walk sees every one of
// the service's used invites once.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { component, xml } from "@xmpp/component";
import { MANAGE_MODULES, startProsody } from "../../test/support/prosody.js";
import { createKey, waitReady } from "../../test/support/stack.js";
import { registerWithInvite } from "../../test/support/xmppClient.js";
import { cpuSeconds, fmt, percentile, serveForBench } from "./measure.js";

const HOST = "unseen.bench.test";
const SERVICE = { domain: "invites.unseen.bench.test", secret: "bench-unseen-secret" };
/** Reads the records as the service does (listed in invites_manage_jids). */
const PROBE = { domain: "probe.unseen.bench.test", secret: "bench-probe-secret" };
/** An admin of the host: its invites are the admin's own, which the service may not see. */
const ADMIN = { domain: "admin.unseen.bench.test", secret: "bench-admin-secret" };
const CONCURRENCY = 8;
const NODE = "xmpp:invites-api/mod_invites_manage#redemptions";

export interface UnseenOptions {
  /** Registrations through the service's invites, before the admin's. */
  readonly visible: number;
  /** Registrations through the admin's own invites. */
  readonly unseen: number;
  /** Measured calls of each kind. */
  readonly calls: number;
}

async function parallel(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

async function connect(port: number, as: { domain: string; secret: string }) {
  const xmpp = component({ service: `xmpp://127.0.0.1:${port}`, domain: as.domain, password: as.secret });
  xmpp.on("error", () => {});
  await xmpp.start();
  return xmpp;
}

const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

export async function unseen(opts: UnseenOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "invites-api-unseen-"));
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const prosody = await startProsody({
      hosts: [HOST],
      components: [SERVICE, PROBE, ADMIN],
      admins: [ADMIN.domain],
      storage: "sql",
      hostOptions: {
        [HOST]: {
          modules: MANAGE_MODULES,
          lines: [`invites_manage_jids = { "${SERVICE.domain}", "${PROBE.domain}" }`],
        },
      },
      logLevel: "info",
    });
    stops.push(() => prosody.dispose());
    console.log(`Prosody: ${/Prosody version \S+/.exec(prosody.log())?.[0] ?? "?"}, SQL storage (SQLite)`);
    const keyStore = join(dir, "keys.sqlite");
    const service = await serveForBench(keyStore, prosody.componentPort, SERVICE, { MANAGE_RATE: "off" });
    stops.push(() => service.stop());
    await waitReady(service.url, 15_000);
    const auth = { Authorization: `Bearer ${await createKey(keyStore, HOST, "bench", "--scope", "manage")}` };
    const probe = await connect(prosody.componentPort, PROBE);
    stops.push(() => probe.stop().catch(() => undefined));
    const admin = await connect(prosody.componentPort, ADMIN);
    stops.push(() => admin.stop().catch(() => undefined));
    const pid = () => prosody.pid() ?? 0;

    let registered = 0;
    const register = (tokens: readonly string[]) => {
      const first = registered;
      registered += tokens.length;
      return parallel(tokens.length, (i) =>
        registerWithInvite({
          port: prosody.c2sPort,
          domain: HOST,
          token: tokens[i] ?? "",
          username: `u${first + i}`,
          password: "bench-password-1",
          timeoutMs: 60_000,
        }),
      );
    };
    async function serviceInvites(count: number): Promise<string[]> {
      const ids: string[] = [];
      await parallel(count, async (i) => {
        const res = await fetch(`${service.url}/invites/account`, {
          method: "POST",
          headers: { ...auth, "Content-Type": "application/json" },
          body: "{}",
        });
        if (res.status !== 201) throw new Error(`POST /invites/account: ${res.status}`);
        ids[i] = ((await res.json()) as { id: string }).id;
      });
      return ids;
    }
    async function adminInvites(count: number): Promise<string[]> {
      const tokens: string[] = [];
      await parallel(count, async (i) => {
        const reply = await admin.iqCaller.request(
          xml(
            "iq",
            { type: "set", to: HOST },
            xml("command", {
              xmlns: "http://jabber.org/protocol/commands",
              node: "urn:xmpp:invite#create-account",
              action: "execute",
            }),
          ),
          60_000,
        );
        const token = /preauth=([\w-]+)/.exec(reply.toString())?.[1];
        if (!token) throw new Error(`no invite in ${reply.toString()}`);
        tokens[i] = token;
      });
      return tokens;
    }
    /** Waits until the service has read no records for two seconds (its passes metric stands still). */
    async function settled(): Promise<void> {
      let last = "";
      let since = performance.now();
      for (;;) {
        const text = await (await fetch(`${service.url}/metrics`)).text();
        const passes = text
          .split("\n")
          .filter((l) => l.startsWith("invites_api_redemption_passes_total"))
          .join();
        if (passes !== last) [last, since] = [passes, performance.now()];
        if (performance.now() - since > 2_000) return;
        await sleep(100);
      }
    }

    /** One call of the redemptions command from the service's cursor, as a pass makes it. */
    const cursor = () => {
      const db = new Database(keyStore, { readonly: true });
      try {
        return db
          .prepare<[string], { cursor: string | null }>(
            "SELECT cursor FROM invites_api_redemption_cursor WHERE host = ?",
          )
          .get(HOST)?.cursor;
      } finally {
        db.close();
      }
    };
    async function pass(after: string | null | undefined): Promise<number> {
      const fields = [
        xml("field", { var: "max" }, xml("value", {}, "200")),
        xml("field", { var: "partial" }, xml("value", {}, "true")),
        ...(after ? [xml("field", { var: "after" }, xml("value", {}, after))] : []),
      ];
      const reply = await probe.iqCaller.request(
        xml(
          "iq",
          { type: "set", to: HOST },
          xml(
            "command",
            { xmlns: "http://jabber.org/protocol/commands", node: NODE, action: "execute" },
            xml("x", { xmlns: "jabber:x:data", type: "submit" }, ...fields),
          ),
        ),
        60_000,
      );
      return reply.getChild("command")?.getChild("x")?.getChildren("item").length ?? 0;
    }
    async function page(path: string) {
      const res = await fetch(`${service.url}${path}`, { headers: auth });
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
      const ids = ((await res.json()) as Array<{ id: string }>).map((i) => i.id);
      return { ids, next: /^<([^>]+)>; rel="next"$/.exec(res.headers.get("Link") ?? "")?.[1] };
    }
    /** Prosody's CPU ms per call and the median latency of `calls` calls of `work`. */
    async function measure(work: () => Promise<unknown>): Promise<string> {
      await work(); // warm-up
      const times: number[] = [];
      const cpu = cpuSeconds(pid());
      for (let i = 0; i < opts.calls; i += 1) {
        const t = performance.now();
        await work();
        times.push(performance.now() - t);
      }
      const ms = ((cpuSeconds(pid()) - cpu) / opts.calls) * 1_000;
      return `${fmt(ms, 2)} ms CPU, ${fmt(median(times), 1)} ms p50`;
    }
    async function figures(label: string): Promise<void> {
      await settled();
      const from = cursor();
      const passCost = await measure(() => pass(from));
      const firstPage = await measure(() => page("/invites?state=used&limit=50"));
      const seen: string[] = [];
      let pages = 0;
      const cpu = cpuSeconds(pid());
      for (let path: string | undefined = "/invites?state=used&limit=50"; path; pages += 1) {
        const got = await page(path);
        seen.push(...got.ids);
        path = got.next;
      }
      const walk = (cpuSeconds(pid()) - cpu) * 1_000;
      if (seen.length !== opts.visible || new Set(seen).size !== opts.visible) {
        throw new Error(
          `the walk saw ${seen.length} used invites (${new Set(seen).size} distinct), not ${opts.visible}`,
        );
      }
      console.log(
        `${label} | ${passCost} | ${firstPage} | ${pages} pages, ${fmt(walk, 1)} ms CPU (${fmt(walk / pages, 2)} ms a page)`,
      );
    }

    await register(await serviceInvites(opts.visible));
    console.log(
      `\n${opts.visible} registrations through the service's invites, then ${opts.unseen} through an admin's own. ` +
        `Prosody per call, ${opts.calls} calls each`,
    );
    console.log(
      "the admin's registrations | one pass from the service's cursor (redemptions, max 200) | " +
        "GET /invites?state=used&limit=50, first page | walk following Link",
    );
    await figures("0");
    await register(await adminInvites(opts.unseen));
    await figures(fmt(opts.unseen));
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
