// The admin page's figures (issue 20, point 6): the bytes a browser downloads for it (gzipped, as
// the service sends them) and how long a first load takes in Debian's Chromium on loopback, cold
// (a new browser context each time: nothing cached). Two loads are measured: the sign-in page, and
// a tab that is signed in already (its key in sessionStorage) until its first page of 20 invites
// shows, against a real Prosody. Beside them, the floor: the same cold load of a one-line HTML page
// from a bare node:http server, which is what Chromium itself costs on this machine at this moment
// (on a busy 2-core machine, most of it). Prints figures; asserts nothing (the docs' budget is a
// test, test/unit/adminPage.test.ts). Every process it starts is stopped on every path.
//
//   npm run figures:admin          (builds first)
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg } from "node:os";
import type { Browser } from "playwright-core";
import { readdirSync } from "node:fs";
import { ADMIN_OUT } from "./buildAdminPage.js";
import { launchChromium } from "../test/support/browser.js";
import { MANAGE_MODULES } from "../test/support/prosody.js";
import { statedAdminScriptBudget } from "../test/support/docFigures.js";
import { createKey, startStack, type RunningStack } from "../test/support/stack.js";

const HOST = "figures.test";
const COMPONENT = { domain: "invites.figures.test", secret: "figures-secret" };
const LOADS = 20;
const WATCHDOG_MS = 300_000;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.95) - 1] ?? NaN;
const ms = (value: number) => `${value.toFixed(0)} ms`;

/** What one file of the page costs to download: as sent (gzip) and unpacked. */
async function served(base: string, name: string): Promise<{ name: string; sent: number; raw: number }> {
  const res = await fetch(`${base}/admin/${name}`, { headers: { "Accept-Encoding": "gzip" } });
  const raw = (await res.arrayBuffer()).byteLength;
  return { name, sent: Number(res.headers.get("content-length")), raw };
}

/**
 * One cold load in a fresh context, timed by the page's own clock from the start of navigation:
 * DOMContentLoaded (the page's script has run: the sign-in form works), the load event, and when
 * `selector` first matches (the signed-in tab's list), seen by a MutationObserver.
 */
async function coldLoad(
  browser: Browser,
  url: string,
  selector: string,
  key?: string,
): Promise<{ domContentLoaded: number; load: number; shown: number }> {
  const context = await browser.newContext();
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
      [key ?? "", selector] as const,
    );
    const page = await context.newPage();
    await page.goto(url);
    await page.locator(selector).waitFor();
    await page.waitForFunction(() => "shownAt" in window);
    return await page.evaluate(() => {
      const nav = window.performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
      const shown = (window as unknown as { shownAt: number }).shownAt;
      return { domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, shown };
    });
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  let stack: RunningStack | undefined;
  let browser: Browser | undefined;
  const floor: Server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end('<!doctype html><html lang="en"><title>floor</title><p id="floor">floor</p></html>');
  });
  const closeFloor = () => new Promise((resolve) => floor.close(resolve));
  const watchdog = setTimeout(() => {
    console.error(`the figures run took over ${WATCHDOG_MS / 1000} s: stopping`);
    process.exitCode = 1;
    void Promise.allSettled([browser?.close(), stack?.stop(), closeFloor()]).then(() => process.exit(1));
  }, WATCHDOG_MS);
  try {
    stack = await startStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostModules: MANAGE_MODULES,
        extra: `invites_manage_jids = { "${COMPONENT.domain}" }\ninvites_manage_groups = { team = "Team" }`,
        logLevel: "warn",
      },
      { component: COMPONENT },
    );
    const base = stack.service.url;
    const key = await createKey(stack.keyStore, HOST, "figures", "--scope", "manage", "--rate", "1000/1m");
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${base}/invites/account`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ note: `invite ${i}`, groups: ["team"] }),
      });
      if (res.status !== 201) throw new Error(`could not make an invite: ${res.status} ${await res.text()}`);
    }

    // Every file of the page, the QR code chunk loaded after sign-in included.
    const names = readdirSync(ADMIN_OUT).filter((name) => name !== "index.html");
    const files = [await served(base, ""), ...(await Promise.all(names.map((name) => served(base, name))))];
    console.log("admin page, bytes as served (gzip) and unpacked:");
    for (const file of files) {
      console.log(
        `  ${(file.name || "index.html").padEnd(24)} ${String(file.sent).padStart(7)} ${String(file.raw).padStart(8)}`,
      );
    }
    const js = files.filter((f) => f.name.endsWith(".js")).reduce((sum, f) => sum + f.sent, 0);
    const total = files.reduce((sum, f) => sum + f.sent, 0);
    console.log(
      `  JavaScript: ${(js / 1024).toFixed(1)} KB gzipped (budget ${statedAdminScriptBudget() / 1024} KB); everything: ${(total / 1024).toFixed(1)} KB`,
    );

    browser = await launchChromium([]);
    await new Promise<void>((resolve) => floor.listen(0, "127.0.0.1", resolve));
    const floorUrl = `http://127.0.0.1:${(floor.address() as AddressInfo).port}/`;
    const url = `${base}/admin/`;
    const cases = [
      { what: "floor, a one-line page", url: floorUrl, selector: "#floor" },
      { what: "the sign-in page", url, selector: "#key" },
      { what: "a signed-in tab, until its 20 invites show", url, selector: "#list > li:nth-child(20)", key },
    ];
    console.log(`first loads, ${LOADS} cold ones each, from the start of navigation (p50 / p95):`);
    // Round-robin, so that whatever else the machine does weighs on each case alike.
    for (const { url, selector, key: kept } of cases) await coldLoad(browser, url, selector, kept); // warm-up
    const runs = cases.map(() => [] as Array<Awaited<ReturnType<typeof coldLoad>>>);
    for (let i = 0; i < LOADS; i++) {
      for (const [n, { url, selector, key: kept }] of cases.entries()) {
        runs[n]?.push(await coldLoad(browser, url, selector, kept));
      }
    }
    const figure = (values: number[]) => `${ms(median(values))} / ${ms(p95(values))}`;
    for (const [n, { what, key: kept }] of cases.entries()) {
      const these = runs[n] ?? [];
      const timings = [
        `DOMContentLoaded ${figure(these.map((r) => r.domContentLoaded))}`,
        `load ${figure(these.map((r) => r.load))}`,
        ...(kept ? [`shown ${figure(these.map((r) => r.shown))}`] : []),
      ];
      console.log(`  ${what.padEnd(44)} ${timings.join(", ")}`);
    }
    console.log(
      `(load average ${loadavg()
        .map((n) => n.toFixed(1))
        .join(" ")} on ${cpus().length} cores)`,
    );
  } finally {
    clearTimeout(watchdog);
    await browser?.close();
    await stack?.stop();
    await closeFloor();
  }
}

await main();
