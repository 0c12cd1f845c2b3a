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
import { readdirSync } from "node:fs";
import { ADMIN_OUT } from "./buildAdminPage.js";
import {
  COMPONENT,
  FIGURES_PROSODY,
  HOST,
  LOADS,
  WATCHDOG_MS,
  coldLoads,
  kb,
  machine,
  printServed,
  served,
  startFloor,
  stoppingAll,
} from "./pageLoads.js";
import { launchChromium } from "../test/support/browser.js";
import { statedAdminScriptBudget } from "../test/support/docFigures.js";
import { createKey, startStack, type RunningStack } from "../test/support/stack.js";

async function main(): Promise<void> {
  await stoppingAll(WATCHDOG_MS, async (started) => {
    const stack: RunningStack = (started.stack = await startStack(FIGURES_PROSODY, { component: COMPONENT }));
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
    const files = [
      await served(`${base}/admin/`, "index.html"),
      ...(await Promise.all(names.map((name) => served(`${base}/admin/${name}`, name)))),
    ];
    printServed("admin page", files);
    const js = files.filter((f) => f.name.endsWith(".js")).reduce((sum, f) => sum + f.sent, 0);
    const total = files.reduce((sum, f) => sum + f.sent, 0);
    console.log(
      `  JavaScript: ${kb(js)} gzipped (budget ${statedAdminScriptBudget() / 1024} KB); everything: ${kb(total)}`,
    );

    const browser = (started.browser = await launchChromium([]));
    const floor = (started.floor = await startFloor());
    const url = `${base}/admin/`;
    await coldLoads(
      browser,
      [
        { what: "floor, a one-line page", url: floor.url, selector: "#floor" },
        { what: "the sign-in page", url, selector: "#key" },
        { what: "a signed-in tab, until its 20 invites show", url, selector: "#list > li:nth-child(20)", key },
      ],
      LOADS,
      (one) => one.key !== undefined,
    );
    console.log(machine());
  });
}

await main();
