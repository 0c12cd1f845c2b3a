// What the page figures scripts share (scripts/adminPageFigures.ts, scripts/invitePageFigures.ts):
// the bytes of a file as the service sends it, cold first loads in Debian's Chromium (a new browser
// context each time: nothing cached) timed by the page's own clock, the floor (the same cold load
// of a one-line page from a bare node:http server: what Chromium itself costs on this machine at
// this moment), medians and p95s, the machine's line, and a watchdog.
import { get, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg } from "node:os";
import { gunzipSync, gzipSync } from "node:zlib";
import type { Browser, BrowserContextOptions } from "playwright-core";
import { MANAGE_MODULES, type ProsodyOptions } from "../test/support/prosody.js";

/** The host and component the figures are taken with, on a Prosody 0.12 with mod_invites_manage. */
export const HOST = "figures.test";
export const COMPONENT = { domain: "invites.figures.test", secret: "figures-secret" };
export const FIGURES_PROSODY: ProsodyOptions = {
  hosts: [HOST],
  components: [COMPONENT],
  admins: [],
  hostModules: MANAGE_MODULES,
  extra: `invites_manage_jids = { "${COMPONENT.domain}" }\ninvites_manage_groups = { team = "Team" }`,
  logLevel: "warn",
};
/** Cold loads per case, and how long a run may take. */
export const LOADS = 20;
export const WATCHDOG_MS = 300_000;

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
export const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.95) - 1] ?? NaN;
export const ms = (value: number) => `${value.toFixed(0)} ms`;
/** "p50 / p95". */
export const figure = (values: number[]) => `${ms(median(values))} / ${ms(p95(values))}`;
export const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export interface Served {
  readonly name: string;
  /** The body's bytes on the wire (gzipped when the service gzips it). */
  readonly sent: number;
  /** Unpacked. */
  readonly raw: number;
  readonly encoding: string;
  /** What gzip -9 would make of a file sent unpacked (what sending it gzipped would save). */
  readonly gzippable?: number;
}

/** What one file costs to download, asked for as a browser does (gzip accepted): as sent and unpacked. */
export function served(url: string, name: string = url): Promise<Served> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { "Accept-Encoding": "gzip" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`${url} answered ${res.statusCode}`));
        const body = Buffer.concat(chunks);
        const encoding = res.headers["content-encoding"] ?? "identity";
        const raw = encoding === "gzip" ? gunzipSync(body).length : body.length;
        const gzippable = encoding === "identity" ? gzipSync(body, { level: 9 }).length : undefined;
        resolve({ name, sent: body.length, raw, encoding, ...(gzippable === undefined ? {} : { gzippable }) });
      });
    }).on("error", reject);
  });
}

export function printServed(title: string, files: readonly Served[]): void {
  console.log(`${title}, bytes as sent and unpacked:`);
  for (const file of files) {
    console.log(
      `  ${file.name.padEnd(24)} ${String(file.sent).padStart(7)} ${String(file.raw).padStart(8)}  ${file.encoding}` +
        (file.gzippable === undefined ? "" : ` (${file.gzippable} gzipped)`),
    );
  }
}

export interface Timings {
  readonly domContentLoaded: number;
  readonly load: number;
  /** When the case's selector first matched. */
  readonly shown: number;
}

export interface LoadCase {
  readonly what: string;
  readonly url: string;
  /** Waited for; its first match is `shown`. */
  readonly selector: string;
  /** Put in sessionStorage as invites-api-key before the page runs (the admin page's signed-in tab). */
  readonly key?: string;
  readonly context?: BrowserContextOptions;
}

/**
 * One cold load in a fresh context, timed by the page's own clock from the start of navigation:
 * DOMContentLoaded (the page's script has run), the load event, and when the case's selector
 * first matches, seen by a MutationObserver.
 */
export async function coldLoad(browser: Browser, one: LoadCase): Promise<Timings> {
  const context = await browser.newContext(one.context);
  try {
    // Through the DevTools protocol, so the page's CSP does not apply to the measuring itself.
    await context.addInitScript(
      ([k, wanted]) => {
        if (k) sessionStorage.setItem("invites-api-key", k);
        const seen = new MutationObserver(() => {
          if (document.querySelector(wanted)) {
            (window as unknown as { shownAt: number }).shownAt = performance.now();
            seen.disconnect();
          }
        });
        seen.observe(document, { childList: true, subtree: true });
      },
      [one.key ?? "", one.selector] as const,
    );
    const page = await context.newPage();
    await page.goto(one.url);
    await page.locator(one.selector).waitFor();
    await page.waitForFunction(() => "shownAt" in window);
    // The load event's end is set once its handlers have run: wait for it too.
    await page.waitForFunction(
      () => (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).loadEventEnd > 0,
    );
    return await page.evaluate(() => {
      const nav = window.performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
      const shown = (window as unknown as { shownAt: number }).shownAt;
      return { domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, shown };
    });
  } finally {
    await context.close();
  }
}

/**
 * `loads` cold loads of each case after one warm-up each, round-robin, so that whatever else the
 * machine does weighs on each case alike; prints p50 / p95 of each, `shown` where `withShown` says.
 */
export async function coldLoads(
  browser: Browser,
  cases: readonly LoadCase[],
  loads: number,
  withShown: (one: LoadCase) => boolean = () => false,
): Promise<Timings[][]> {
  console.log(`first loads, ${loads} cold ones each, from the start of navigation (p50 / p95):`);
  for (const one of cases) await coldLoad(browser, one); // warm-up
  const runs = cases.map(() => [] as Timings[]);
  for (let i = 0; i < loads; i++) {
    for (const [n, one] of cases.entries()) runs[n]?.push(await coldLoad(browser, one));
  }
  for (const [n, one] of cases.entries()) {
    const these = runs[n] ?? [];
    const timings = [
      `DOMContentLoaded ${figure(these.map((r) => r.domContentLoaded))}`,
      `load ${figure(these.map((r) => r.load))}`,
      ...(withShown(one) ? [`shown ${figure(these.map((r) => r.shown))}`] : []),
    ];
    console.log(`  ${one.what.padEnd(44)} ${timings.join(", ")}`);
  }
  return runs;
}

/** The floor: a one-line page (`#floor`) from a bare node:http server on loopback. */
export async function startFloor(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end('<!doctype html><html lang="en"><title>floor</title><p id="floor">floor</p></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The machine as the figures were taken on it. */
export const machine = () =>
  `(Node ${process.version}, load average ${loadavg()
    .map((n) => n.toFixed(1))
    .join(" ")} on ${cpus().length} cores)`;

/** What a figures run has started, each set once it has. */
export interface Started {
  stack?: { stop(): Promise<void> };
  browser?: Browser;
  floor?: { close(): Promise<void> };
}

/**
 * Runs `run`, then stops whatever it started, on every path; a watchdog stops it all and exits with
 * status 1 when the run overstays `limitMs`.
 */
export async function stoppingAll(limitMs: number, run: (started: Started) => Promise<void>): Promise<void> {
  const started: Started = {};
  const stop = () => Promise.allSettled([started.browser?.close(), started.stack?.stop(), started.floor?.close()]);
  const timer = setTimeout(() => {
    console.error(`the figures run took over ${limitMs / 1000} s: stopping`);
    process.exitCode = 1;
    void stop().finally(() => process.exit(1));
  }, limitMs);
  try {
    await run(started);
  } finally {
    clearTimeout(timer);
    await stop();
  }
}
