import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page, PageScreenshotOptions } from "playwright-core";
import { launchChromium } from "../support/browser.js";
import { recordTokensIn } from "../support/handedOut.js";
import { MANAGE_MODULES } from "../support/prosody.js";
import { compareScreen, MAX_DIFFERING, PIXEL_THRESHOLD, UPDATING } from "../support/screens.js";
import { createKey, startStack, type RunningStack } from "../support/stack.js";

// The admin page's screens (issue 26.14), each compared with a reference PNG in test/e2e/screens/:
// signed out, signed in, a field's error, an invite just made, the list of one state, the revoke
// confirmation, the budget panel with a limit and paused, the batch form's error, a batch's sheet
// on screen and as printed, and the banner of a service that does not answer; at 1280×900 and
// 360×800, light and dark. What changes from run to run (key ids, dates, tokens, ports, QR codes) is set to fixed text
// or masked before each shot. UPDATE_SCREENS=1 writes the references anew (support/screens.ts).
const HOST = "chat.example.test";
// Where invites are made: its list holds only the one just made (each is revoked after its shot).
const NEW_HOST = "new.example.test";
const COMPONENT = { domain: "invites.screens.test", secret: "screens-secret" };
const VERSION = process.env.PROSODY_VERSION === "13" ? "13" : "0.12";
const SCREENS = fileURLToPath(new URL("./screens/", import.meta.url));
// Stands in for every date the page shows, and for every key id and invite link.
const DATE = "1 Jan 2030, 12:00";
const KEY_ID = "KeyId0123456";
const LINK = `http://${HOST}:5280/invites_page?FixedTokenForTheScreens`;
const MASK = "#8a8f96";
// A batch's references, as a sheet shows them.
const REFS = ["Ana Lima, 2nd floor", "Ben Okafor", "Cleo Park, room 14"];

const VIEWPORTS = [
  { width: 1280, height: 900 },
  { width: 360, height: 800 },
] as const;
const SCHEMES = ["light", "dark"] as const;

type Viewport = (typeof VIEWPORTS)[number];

describe(`the admin page's screens match test/e2e/screens/, Prosody ${VERSION}`, () => {
  let stack: RunningStack | undefined;
  let browser: Browser;
  const keys = { show: "", make: "" };

  /** An invite made through the API, a second after the last: the list's order (by creation time) is fixed. */
  async function make(key: string, kind: string, body: object): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const res = await api(key, "POST", `/invites/${kind}`, body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return (res.body as { id: string }).id;
  }

  async function api(key: string, method: string, path: string, json?: object) {
    const res = await fetch(`${stack!.service.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(json ? { "Content-Type": "application/json" } : {}) },
      ...(json ? { body: JSON.stringify(json) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  before(async () => {
    // No roles to offer on 13 either, so that both versions show the same form. So no invite names
    // an account: on 13 every account has a role, and any is above an empty ceiling.
    const lines = [
      `invites_manage_groups = { family = "Family", bookclub = "Book club" }`,
      "invites_manage_roles = {}",
    ];
    stack = await startStack(
      {
        hosts: [HOST, NEW_HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: MANAGE_MODULES, lines }, [NEW_HOST]: { modules: MANAGE_MODULES, lines } },
        extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
      },
      { component: COMPONENT, env: { MANAGE_RATE: "1000/1m" } },
    );
    keys.show = await createKey(stack.keyStore, HOST, "screens", "--scope", "manage", "--rate", "1000/1m");
    keys.make = await createKey(stack.keyStore, NEW_HOST, "screens", "--scope", "manage", "--rate", "1000/1m");
    await make(keys.show, "account", { groups: ["family"], note: "Maria, my sister" });
    await make(keys.show, "group", { groups: ["bookclub"], max_uses: 12, ttl: 14 * 86_400, note: "Book club, autumn" });
    const old = await make(keys.show, "account", { note: "Old laptop" });
    assert.equal((await api(keys.show, "DELETE", `/invites/${old}`)).status, 204);
    browser = await launchChromium([]);
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  /** A fresh tab on the page, in this size and scheme. */
  async function open(viewport: Viewport, scheme: (typeof SCHEMES)[number]): Promise<[BrowserContext, Page]> {
    const context = await browser.newContext({
      viewport,
      colorScheme: scheme,
      deviceScaleFactor: 1,
      locale: "en-GB",
      timezoneId: "UTC",
      reducedMotion: "reduce",
    });
    const page = await context.newPage();
    // For the log scan (npm test): every invite the page was handed.
    page.on("response", (response) => {
      if (/^\/invites(\/|$)/.test(new URL(response.url()).pathname)) {
        void response.text().then(recordTokensIn, () => undefined);
      }
    });
    await page.goto(`${stack!.service.url}/admin/`);
    await page.locator("#key").waitFor();
    return [context, page];
  }

  async function signIn(page: Page, key: string): Promise<void> {
    await page.fill("#key", key);
    await page.press("#key", "Enter");
    await page.locator("#app").waitFor();
  }

  /**
   * Makes a group invite through the form, as a person would; once its link and its card show,
   * resolves with what revokes it, so that the next tab's list is the same.
   */
  async function createInvite(page: Page): Promise<() => Promise<void>> {
    await page.getByRole("radio", { name: /^Group invite/ }).check();
    await page.getByRole("checkbox", { name: "Family", exact: true }).check();
    await page.getByLabel("At most this many people").fill("20");
    await page.getByLabel("Valid for", { exact: true }).selectOption({ label: "30 days" });
    await page.getByLabel("Note (optional)").fill("Cousins, for the reunion");
    await page.getByRole("button", { name: "Create invite" }).click();
    await page.locator("#result-link input").waitFor();
    await page.locator("#list > li", { hasText: "Cousins, for the reunion" }).waitFor();
    const id = new URL(await page.inputValue("#result-link input")).search.slice(1);
    return async () => assert.equal((await api(keys.make, "DELETE", `/invites/${id}`)).status, 204);
  }

  /** Makes a batch of three through the form; resolves with what revokes them. */
  async function makeBatch(page: Page): Promise<() => Promise<void>> {
    await signIn(page, keys.make);
    await page.getByText("Batch of invites").click();
    await page.getByLabel("References, one a line").fill(REFS.join("\n"));
    await page.getByRole("radio", { name: /^Group invites/ }).check();
    await page.locator("#batch").getByRole("checkbox", { name: "Book club" }).check();
    await page.getByRole("button", { name: "Make the batch" }).click();
    await page.locator("#sheet .sheet-card").nth(2).waitFor();
    return async () => {
      const pending = (await api(keys.make, "GET", "/invites?state=pending&limit=100")).body as Array<{ id: string }>;
      for (const { id } of pending) assert.equal((await api(keys.make, "DELETE", `/invites/${id}`)).status, 204);
    };
  }

  /** Sets everything that differs from run to run to fixed text: key ids, dates, links. */
  async function freeze(page: Page): Promise<void> {
    await page.evaluate(
      ({ date, keyId, link }) => {
        const who = document.getElementById("who");
        if (who?.textContent) who.textContent = who.textContent.replace(/^Key \S+/, `Key ${keyId}`);
        for (const term of document.querySelectorAll("#list dt")) {
          const value = term.nextElementSibling;
          if (!value) continue;
          if (/^(Created|Expires|Used|Expired|Revoked)$/.test(term.textContent ?? "")) value.textContent = date;
          if (term.textContent === "Made with") value.textContent = `key ${keyId}`;
        }
        const summary = document.getElementById("result-summary");
        if (summary?.textContent)
          summary.textContent = summary.textContent.replace(/ Expires .*$/, ` Expires ${date}.`);
        for (const input of document.querySelectorAll<HTMLInputElement>(".link-block input")) input.value = link;
        for (const shown of document.querySelectorAll(".sheet-link")) shown.textContent = link;
        const usage = document.getElementById("budget-usage");
        if (usage?.textContent) usage.textContent = usage.textContent.replace(/ again .*$/, ` again ${date}.`);
        const sheet = document.getElementById("sheet-summary");
        if (sheet?.textContent) sheet.textContent = sheet.textContent.replace(/ until .*$/, ` until ${date}.`);
      },
      { date: DATE, keyId: KEY_ID, link: LINK },
    );
  }

  /** The screen as it is now, compared with its reference: why it differs, or undefined. */
  async function shoot(
    page: Page,
    name: string,
    opts: { fullPage: boolean; part?: string },
  ): Promise<string | undefined> {
    await freeze(page);
    const options: PageScreenshotOptions = {
      animations: "disabled",
      caret: "hide",
      // The QR codes: each holds a new token. readQrCode checks them in adminPage.prosody.test.ts.
      mask: [page.locator("canvas")],
      maskColor: MASK,
    };
    // A part as a clip of the whole page, scrolled to its top: else (a locator's own screenshot of a
    // part taller than the viewport, or a scrolled page) the masks land off the QR codes.
    const clip = opts.part
      ? await page.locator(opts.part).evaluate((part) => {
          scrollTo(0, 0);
          const box = part.getBoundingClientRect();
          return { x: box.x + scrollX, y: box.y + scrollY, width: box.width, height: box.height };
        })
      : undefined;
    const png = await page.screenshot({
      ...options,
      fullPage: opts.fullPage || clip !== undefined,
      ...(clip ? { clip } : {}),
    });
    return compareScreen(join(SCREENS, `${name}.png`), png);
  }

  /**
   * Each state of the page, in a fresh tab: its name and how to reach it. Full page where the page
   * is still; the viewport where what matters is what is in sight (the result after Create invite,
   * the modal dialog, the sticky banner).
   */
  const STATES: ReadonlyArray<{
    name: string;
    fullPage: boolean;
    /** Only this part of the page (a selector). */
    part?: string;
    /** Drives the tab there; may resolve with what undoes it on the server. */
    reach(page: Page): Promise<void | (() => Promise<void>)>;
  }> = [
    { name: "signed-out", fullPage: true, reach: async () => undefined },
    {
      name: "signed-in",
      fullPage: true,
      async reach(page) {
        await signIn(page, keys.show);
        await page.locator("#list > li").nth(1).waitFor();
      },
    },
    {
      name: "field-error",
      fullPage: true,
      async reach(page) {
        await signIn(page, keys.show);
        await page.locator("#list > li").nth(1).waitFor();
        await page.getByLabel("User name").fill("a b");
        await page.getByRole("button", { name: "Create invite" }).click();
        await page.locator("#username-error").waitFor();
      },
    },
    {
      name: "invite-created",
      fullPage: false,
      async reach(page) {
        await signIn(page, keys.make);
        return createInvite(page);
      },
    },
    {
      name: "list-revoked",
      fullPage: true,
      async reach(page) {
        await signIn(page, keys.show);
        await page.locator("#list > li").nth(1).waitFor();
        const loaded = page.waitForResponse((r) => r.url().includes("/invites?state=revoked"));
        await page.getByLabel("Show").selectOption("revoked");
        await loaded;
        await page.locator("#list > li", { hasText: "Old laptop" }).waitFor();
      },
    },
    {
      name: "revoke-confirmation",
      fullPage: false,
      async reach(page) {
        await signIn(page, keys.show);
        const card = page.locator("#list > li", { hasText: "Maria, my sister" });
        await card.getByRole("button", { name: "Revoke…" }).click();
        await page.getByRole("dialog", { name: "Revoke this invite?" }).waitFor();
      },
    },
    {
      name: "budget-paused",
      fullPage: false,
      part: "#budget",
      async reach(page) {
        await signIn(page, keys.make);
        const panel = page.getByRole("region", { name: "Registrations" });
        await panel.getByText("No limit.").waitFor();
        await panel.getByLabel("Registrations").fill("50");
        await panel.getByRole("button", { name: "Set limit" }).click();
        await panel.getByText(/^0 of 50 registrations a day used/).waitFor();
        await panel.getByRole("button", { name: "Pause registrations…" }).click();
        await page.getByRole("button", { name: "Pause", exact: true }).click();
        await panel.getByRole("button", { name: "Resume registrations" }).waitFor();
        return async () => {
          const open = await api(keys.make, "PATCH", "/budget", { limit: null, paused: false });
          assert.equal(open.status, 200, JSON.stringify(open.body));
        };
      },
    },
    {
      name: "batch-form",
      fullPage: false,
      part: "#batch",
      async reach(page) {
        await signIn(page, keys.make);
        await page.getByText("Batch of invites").click();
        await page.getByLabel("References, one a line").fill(REFS.join("\n"));
        await page.getByLabel("Or how many, without references").fill("4");
        await page.getByRole("button", { name: "Make the batch" }).click();
        await page.locator("#batch-count-error").waitFor();
      },
    },
    { name: "batch-sheet", fullPage: false, part: "#sheet", reach: makeBatch },
    {
      name: "batch-print",
      fullPage: true,
      async reach(page) {
        const undo = await makeBatch(page);
        await page.emulateMedia({ media: "print" });
        return undo;
      },
    },
    {
      name: "service-unreachable",
      fullPage: false,
      async reach(page) {
        await signIn(page, keys.show);
        await page.locator("#list > li").nth(1).waitFor();
        await page.route(`${stack!.service.url}/invites**`, (route) => route.abort("connectionrefused"));
        await page.getByLabel("User name").fill("dora");
        await page.getByRole("button", { name: "Create invite" }).click();
        await page.getByRole("alert").filter({ hasText: "The invites service does not answer" }).waitFor();
      },
    },
  ];

  for (const viewport of VIEWPORTS) {
    for (const scheme of SCHEMES) {
      const size = `${viewport.width}x${viewport.height}`;
      it(`${size}, ${scheme}: each state as its reference (${PIXEL_THRESHOLD} a pixel, ${MAX_DIFFERING * 100} % of pixels)`, async () => {
        const differing: string[] = [];
        for (const state of STATES) {
          const [context, page] = await open(viewport, scheme);
          let undo: void | (() => Promise<void>) = undefined;
          try {
            undo = await state.reach(page);
            const why = await shoot(page, `${state.name}-${size}-${scheme}`, state);
            if (why) differing.push(why);
          } finally {
            await undo?.();
            await context.close();
          }
        }
        if (UPDATING) console.log(`UPDATE_SCREENS=1: references in ${SCREENS} written where they differed`);
        assert.deepEqual(differing, [], `screens unlike their references:\n${differing.join("\n")}`);
      });
    }
  }

  for (const viewport of VIEWPORTS) {
    it(`after Create invite at ${viewport.width}×${viewport.height}, its link and QR code are in sight`, async () => {
      const [context, page] = await open(viewport, "light");
      let revoke: (() => Promise<void>) | undefined;
      try {
        await signIn(page, keys.make);
        revoke = await createInvite(page);
        for (const selector of ["#result-link input", "#result-link canvas"]) {
          const box = await page.locator(selector).boundingBox();
          assert.ok(box, `${selector} is shown`);
          const inside =
            box.x >= 0 && box.y >= 0 && box.x + box.width <= viewport.width && box.y + box.height <= viewport.height;
          assert.ok(
            inside,
            `${selector} lies within the ${viewport.width}×${viewport.height} viewport: ${JSON.stringify(box)}`,
          );
        }
        assert.equal(await page.evaluate(() => document.activeElement?.id), "result-title", "focus on the result");
      } finally {
        await revoke?.();
        await context.close();
      }
    });
  }
});
