// The invite page's figures (issue 28): the bytes a browser downloads for a pending invite's page
// (its HTML, script and style sheet, as the service sends them and unpacked) and how long a first
// load takes in Debian's Chromium on loopback, cold (a new browser context each time: nothing
// cached), at 360×800 as a phone: DOMContentLoaded (the page's script has run) and the load event.
// Against a real Prosody 0.12 whose invites_page points at the service, as the docs' snippet has
// it; the invite is made through the API and its landing_page opened, so each load asks Prosody
// about the invite as a real one does. Beside it, the floor: the same cold load of a one-line HTML
// page from a bare node:http server, which is what Chromium itself costs on this machine at this
// moment. Prints figures; asserts nothing (the docs' budgets are a test,
// test/unit/invitePageBudget.test.ts). Every process it starts is stopped on every path.
//
//   npm run figures:invite          (builds first)
import type { BrowserContextOptions } from "playwright-core";
import {
  COMPONENT,
  FIGURES_PROSODY,
  HOST,
  LOADS,
  WATCHDOG_MS,
  coldLoads,
  figure,
  kb,
  machine,
  printServed,
  served,
  startFloor,
  stoppingAll,
} from "./pageLoads.js";
import { launchChromium } from "../test/support/browser.js";
import { statedInvitePageScriptBudget, statedInvitePageStyleBudget } from "../test/support/docFigures.js";
import { createKey, startStackWithInvitePage, type RunningStack } from "../test/support/stack.js";

/** A phone: the width most of the invited open their link at, and the platform it names. */
const PHONE: BrowserContextOptions = {
  viewport: { width: 360, height: 800 },
  locale: "en-GB",
  userAgent:
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
};

/** The docs' budget, or that they state none (yet): the figures are worth having either way. */
function budget(stated: () => number): string {
  try {
    return `budget ${stated() / 1024} KB`;
  } catch {
    return "no budget stated in the docs";
  }
}

async function main(): Promise<void> {
  await stoppingAll(WATCHDOG_MS, async (started) => {
    const stack: RunningStack = (started.stack = await startStackWithInvitePage(FIGURES_PROSODY, {
      component: COMPONENT,
      env: { INVITE_PAGE_RATE: "off" },
    }));
    const key = await createKey(stack.keyStore, HOST, "figures", "--scope", "manage");
    const res = await fetch(`${stack.service.url}/invites/account`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({ note: "figures", groups: ["team"] }),
    });
    if (res.status !== 201) throw new Error(`could not make an invite: ${res.status} ${await res.text()}`);
    const url = ((await res.json()) as { landing_page: string }).landing_page;
    if (!url.startsWith(`${stack.service.url}/invite/${HOST}/`)) throw new Error(`not the service's page: ${url}`);

    // The page, then the files it links to.
    const html = await served(url, "the page (HTML)");
    const page = await (await fetch(url)).text();
    const linked = [...page.matchAll(/(?:src|href)="(\/invite\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    if (linked.length !== 2)
      throw new Error(`the page links ${linked.join(", ") || "no files"}: expected a script and a style sheet`);
    const files = [
      html,
      ...(await Promise.all(linked.map((path) => served(`${stack.service.url}${path}`, path.split("/").pop())))),
    ];
    printServed("invite page", files);
    const sent = (ext: string) => files.filter((f) => f.name.endsWith(ext)).reduce((sum, f) => sum + f.sent, 0);
    const total = files.reduce((sum, f) => sum + f.sent, 0);
    console.log(
      `  script: ${kb(sent(".js"))} gzipped (${budget(statedInvitePageScriptBudget)}); ` +
        `style sheet: ${kb(sent(".css"))} gzipped (${budget(statedInvitePageStyleBudget)}); ` +
        `everything: ${kb(total)}`,
    );

    const browser = (started.browser = await launchChromium([]));
    const floor = (started.floor = await startFloor());
    await coldLoads(
      browser,
      [
        { what: "floor, a one-line page", url: floor.url, selector: "#floor", context: PHONE },
        { what: "a pending invite's page, 360×800", url, selector: "#web-signup", context: PHONE },
      ],
      LOADS,
    );
    // What of that is the service's: the page alone, asked for by node:http (Prosody asked each time).
    const answers: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      const start = performance.now();
      await served(url);
      answers.push(performance.now() - start);
    }
    console.log(`  ${"the page's HTML alone, from node:http".padEnd(44)} ${figure(answers)}`);
    console.log(machine());
  });
}

await main();
