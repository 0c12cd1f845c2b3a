import assert from "node:assert/strict";
import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Locator, Page, Request } from "playwright-core";
import { axeViolations } from "../support/axe.js";
import { launchChromium } from "../support/browser.js";
import { recordTokensIn } from "../support/handedOut.js";
import { inviteIsValid } from "../support/invites.js";
import { MANAGE_MODULES, type RunningProsody } from "../support/prosody.js";
import { readQrCode } from "../support/qr.js";
import type { RunningService } from "../support/service.js";
import { createKey, startServiceWithoutXmpp, waitReady, type RunningStack } from "../support/stack.js";
import { startWebRegistrationStack } from "../support/webRegister.js";
import type { BudgetJson, InviteJson, InviteOptionsJson } from "../../src/http/apiTypes.js";

// The admin page (issue 20) in Debian's Chromium, against a real Prosody (0.12 or 13, as every
// *.prosody.test.ts) and the real service: signing in, making each kind of invite, reading its QR
// code back, registering through its link on Prosody's own pages, revoking, errors, the banner,
// markup kept as text, the CSP, the keyboard alone, axe-core in each state, 360 px and 1280 px,
// light and dark. ADMIN_SCREENSHOTS=1 writes the screenshots of README.md and docs/admin-page.md into docs/.
const HOST = "admin.test";
// A second host, whose group names are markup: the page must show them as text.
const XSS_HOST = "xss.admin.test";
// A third, with invites as a person would have them, for those screenshots.
const SHOW_HOST = "chat.example.test";
// A fourth, with more invites than a page holds.
const PAGES_HOST = "pages.admin.test";
const COMPONENT = { domain: "invites.admin.test", secret: "admin-secret" };
const ON_13 = process.env.PROSODY_VERSION === "13";
const VERSION = ON_13 ? "13" : "0.12";
// mod_password_policy (web registration) refuses short passwords and those holding the name.
const PASSWORD = "correct-horse-battery-42";
const XSS = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`;
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SHOTS = process.env.ADMIN_SCREENSHOTS
  ? join(ROOT, "docs")
  : mkdtempSync(join(tmpdir(), "invites-api-admin-screenshots-"));

interface Tab {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every request the page made, in order. */
  readonly requests: Request[];
  /** What Chromium reported the page's CSP blocked: nothing, unless a test tries. */
  readonly blocked: string[];
}

describe(`the admin page at /admin/, in Chromium, Prosody ${VERSION}`, () => {
  let stack: RunningStack | undefined;
  let prosody: RunningProsody;
  let service: RunningService;
  let browser: Browser;
  let framer: Server | undefined;
  const keys = { manage: "", create: "", reset: "", xss: "", capped: "", shortLived: "", show: "", pages: "" };

  before(async () => {
    stack = await startWebRegistrationStack(
      {
        hosts: [HOST, XSS_HOST, SHOW_HOST, PAGES_HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: {
          [HOST]: {
            modules: [...MANAGE_MODULES, "invites_register_web"],
            lines: [`invites_manage_groups = { team = "Team", staff = "Staff" }`],
          },
          [XSS_HOST]: { modules: MANAGE_MODULES, lines: [`invites_manage_groups = { xss = ${JSON.stringify(XSS)} }`] },
          [PAGES_HOST]: { modules: MANAGE_MODULES },
          [SHOW_HOST]: {
            modules: MANAGE_MODULES,
            lines: [`invites_manage_groups = { family = "Family", bookclub = "Book club" }`],
          },
        },
        extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
      },
      // The suite lists and shows with the same few keys far more often than a person would.
      { component: COMPONENT, env: { MANAGE_RATE: "1000/1m" } },
    );
    ({ prosody, service } = stack);
    const make = (host: string, name: string, ...args: string[]) => createKey(stack!.keyStore, host, name, ...args);
    keys.manage = await make(HOST, "managers", "--scope", "manage", "--rate", "1000/1m");
    keys.create = await make(HOST, "sign-up desk");
    keys.reset = await make(HOST, "help desk", "--scope", "reset");
    keys.xss = await make(XSS_HOST, "xss", "--scope", "manage", "--rate", "1000/1m");
    keys.capped = await make(HOST, "capped", "--scope", "create,reset", "--max-invites", "5");
    keys.shortLived = await make(HOST, "short", "--scope", "manage", "--max-ttl", "2h");
    keys.show = await make(SHOW_HOST, "Ana's laptop", "--scope", "manage", "--rate", "1000/1m");
    keys.pages = await make(PAGES_HOST, "pages", "--scope", "manage", "--rate", "1000/1m");
    prosody.ctl(["register", "bob", HOST, "bob-password-1"]);
    prosody.ctl(["register", "bob", SHOW_HOST, "bob-password-1"]);
    for (const [kind, body] of [
      ["account", { username: "maria", groups: ["family"], note: "Maria, my sister" }],
      ["group", { groups: ["bookclub"], max_uses: 12, ttl: 14 * 86_400, note: "Book club, autumn" }],
      ["reset", { username: "bob" }],
    ] as const) {
      const made = await api(`/invites/${kind}`, keys.show, body);
      assert.equal(made.status, 201, JSON.stringify(made.body));
    }
    browser = await launchChromium([HOST, XSS_HOST, SHOW_HOST, "framer.test"]);
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (framer ? framer.close(resolve) : resolve(undefined)));
    await stack?.stop();
  });

  /** A fresh tab (its own storage) on the page, recording every request it makes. */
  async function open(opts: { width?: number; scheme?: "light" | "dark" } = {}): Promise<Tab> {
    const context = await browser.newContext({
      viewport: { width: opts.width ?? 1280, height: 900 },
      colorScheme: opts.scheme ?? "light",
    });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: service.url });
    const page = await context.newPage();
    const requests: Request[] = [];
    const blocked: string[] = [];
    page.on("request", (request) => requests.push(request));
    // For the log scan (npm test): every invite the page was handed, as the API gave it.
    page.on("response", (response) => {
      if (/^\/invites(\/|$)/.test(new URL(response.url()).pathname)) {
        void response.text().then(recordTokensIn, () => undefined);
      }
    });
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
    });
    await page.goto(`${service.url}/admin/`);
    await page.locator("#key").waitFor();
    return { context, page, requests, blocked };
  }

  /** Runs a test with a fresh tab, closed afterwards whatever happened. */
  async function inTab(
    test: (tab: Tab) => Promise<void>,
    opts: Parameters<typeof open>[0] & { violating?: boolean } = {},
  ): Promise<void> {
    const tab = await open(opts);
    try {
      await test(tab);
      ownOriginOnly(tab);
      if (!opts.violating) assert.deepEqual(tab.blocked, [], "the page itself never breaks its own CSP");
    } finally {
      await tab.context.close();
    }
  }

  /** Nothing came from elsewhere, and the key went to the service only, never in a URL. */
  function ownOriginOnly(tab: Tab): void {
    const origin = new URL(service.url).origin;
    const elsewhere = tab.requests.filter(
      (r) => r.frame() === tab.page.mainFrame() && new URL(r.url()).origin !== origin,
    );
    assert.deepEqual(
      elsewhere.map((r) => r.url()),
      [],
      "the page fetched nothing from another origin",
    );
    for (const request of tab.requests) {
      const secrets = Object.values(keys).map((key) => key.split("/")[1] ?? "");
      assert.ok(!secrets.some((secret) => secret && request.url().includes(secret)), `a key in ${request.url()}`);
      if (request.headers().authorization) assert.equal(new URL(request.url()).origin, origin);
    }
  }

  /** No serious or critical axe-core violation in the page as it is now. */
  async function accessible(page: Page, state: string): Promise<void> {
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], `axe-core, ${state}: ${JSON.stringify(violations, null, 1)}`);
  }

  async function signIn(page: Page, key: string): Promise<void> {
    await page.fill("#key", key);
    await page.press("#key", "Enter");
    await page.locator("#app").waitFor();
  }

  const linkOf = (page: Page, within = "#result-link") => page.inputValue(`${within} input`);

  /** Fills the "New invite" form as a person would, submits it, and waits for the new link. */
  async function create(
    page: Page,
    kind: "Account invite" | "Group invite" | "Password reset",
    fields: { username?: string; groups?: string[]; maxUses?: string; note?: string; ttl?: string; role?: string } = {},
  ): Promise<string> {
    const before = (await page.locator("#result-link input").count()) ? await linkOf(page) : "";
    await page.getByRole("radio", { name: new RegExp(`^${kind}`) }).check();
    if (fields.username !== undefined) await page.getByLabel("User name").fill(fields.username);
    for (const group of fields.groups ?? []) await page.getByRole("checkbox", { name: group, exact: true }).check();
    if (fields.maxUses !== undefined) await page.getByLabel("At most this many people").fill(fields.maxUses);
    if (fields.ttl !== undefined)
      await page.getByLabel("Valid for", { exact: true }).selectOption({ label: fields.ttl });
    if (fields.role !== undefined) await page.getByLabel("Role").selectOption(fields.role);
    if (fields.note !== undefined) await page.getByLabel("Note (optional)").fill(fields.note);
    await page.getByRole("button", { name: "Create invite" }).click();
    await page.waitForFunction(
      (previous) => {
        const input = document.querySelector<HTMLInputElement>("#result-link input");
        return input !== null && input.value !== previous;
      },
      before,
      { timeout: 15_000 },
    );
    return linkOf(page);
  }

  /** Reads the QR code the page drew, from a screenshot of it (as a phone's camera would). */
  async function qrText(canvas: Locator): Promise<string | undefined> {
    for (let tries = 0; tries < 20; tries++) {
      const text = readQrCode(await canvas.screenshot());
      if (text) return text;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return undefined;
  }

  /** The card of the list that holds this text, in the state now shown. */
  const card = (page: Page, text: string) => page.locator("#list > li").filter({ hasText: text });

  async function showState(page: Page, state: "pending" | "used" | "expired" | "revoked"): Promise<void> {
    const loaded = page.waitForResponse((r) => r.url().includes(`/invites?state=${state}`));
    await page.getByLabel("Show").selectOption(state);
    await loaded;
  }

  async function api<T>(
    path: string,
    key: string,
    json?: unknown,
    method = json === undefined ? "GET" : "POST",
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${key}`,
        ...(json === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  it("GET /invites/options tells a key what it may do and what an invite may carry on its host", async () => {
    const manage = await api<InviteOptionsJson>("/invites/options", keys.manage);
    assert.equal(manage.status, 200, JSON.stringify(manage.body));
    assert.deepEqual(manage.body, {
      host: HOST,
      key: keys.manage.split("/")[0],
      scopes: ["manage"],
      can: ["account", "group", "reset", "list", "revoke", "update", "budget"],
      groups: [
        { id: "staff", name: "Staff" },
        { id: "team", name: "Team" },
      ],
      // invites_manage_roles' default, on 13; 0.12 has no roles to give.
      roles: ON_13 ? ["prosody:guest", "prosody:member", "prosody:registered"] : [],
      max_ttl: 30 * 86_400,
      default_ttl: { account: 7 * 86_400, group: 7 * 86_400, reset: 86_400 },
    });
    const scoped = async (key: string) => (await api<InviteOptionsJson>("/invites/options", key)).body.can;
    assert.deepEqual(await scoped(keys.create), ["account"]);
    assert.deepEqual(await scoped(keys.reset), ["reset"]);
    assert.deepEqual(await scoped(keys.capped), ["account", "reset"]);
    const short = (await api<InviteOptionsJson>("/invites/options", keys.shortLived)).body;
    assert.deepEqual([short.max_ttl, short.default_ttl], [7_200, { account: 7_200, group: 7_200, reset: 7_200 }]);
    const xss = (await api<InviteOptionsJson>("/invites/options", keys.xss)).body;
    assert.deepEqual(xss.groups, [{ id: "xss", name: XSS }]);
    assert.equal((await api("/invites/options", "nobody/secret")).status, 403);
  });

  it("is served at /admin/ from the package: strict CSP, security headers, caching, nothing from elsewhere", async () => {
    const res = await fetch(`${service.url}/admin/`);
    assert.equal(res.status, 200);
    const csp = res.headers.get("content-security-policy") ?? "";
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "form-action 'none'",
      "base-uri 'none'",
    ]) {
      assert.ok(csp.split("; ").includes(directive), `CSP has ${directive}: ${csp}`);
    }
    assert.ok(!csp.includes("unsafe"), "no unsafe-inline nor unsafe-eval");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    const indexTag = res.headers.get("etag") ?? "";
    const revalidated = await statusOf(`${service.url}/admin/`, {
      "Accept-Encoding": "gzip",
      "If-None-Match": indexTag,
    });
    assert.equal(revalidated, 304, "index.html is revalidated, and not sent again while unchanged");
    const html = await res.text();
    // Only the page's own files, by relative names: no CDN, no web font, no other origin.
    const references = [...html.matchAll(/<(?:link|script)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? "");
    assert.ok(references.length >= 3);
    for (const reference of references) assert.match(reference, /^[\w.-]+$/, `a file of its own: ${reference}`);
    for (const name of references) {
      const file = await fetch(`${service.url}/admin/${name}`);
      assert.equal(file.status, 200, name);
      assert.equal(file.headers.get("cache-control"), "public, max-age=31536000, immutable", name);
      // As a browser revalidates (fetch() would add Cache-Control: no-cache, which forbids a 304).
      const etag = file.headers.get("etag") ?? "";
      const again = await statusOf(`${service.url}/admin/${name}`, {
        "Accept-Encoding": "gzip",
        "If-None-Match": etag,
      });
      assert.equal(again, 304, `${name} is not sent again while unchanged`);
    }
    const redirect = await fetch(`${service.url}/admin`, { redirect: "manual" });
    assert.deepEqual([redirect.status, redirect.headers.get("location")], [308, "/admin/"]);
    assert.equal((await fetch(`${service.url}/admin/nothing.js`)).status, 404);
    await inTab(async ({ page }) => {
      await signIn(page, keys.manage);
      await create(page, "Account invite");
    });
  });

  it("ADMIN_PAGE=off serves no page", async () => {
    const off = await startServiceWithoutXmpp({ KEY_STORE: stack!.keyStore, ADMIN_PAGE: "off" });
    try {
      for (const path of ["/admin/", "/admin"]) assert.equal((await fetch(`${off.url}${path}`)).status, 404, path);
    } finally {
      await off.stop();
    }
  });

  it("signs in with a key kept in the tab only (never a cookie, a URL or localStorage); signing out forgets it", async () => {
    await inTab(async ({ context, page }) => {
      await accessible(page, "signed out");
      await page.fill("#key", "AbC12345/not-the-secret");
      await page.press("#key", "Enter");
      await page.locator("#key-error").waitFor();
      assert.equal(await page.locator("#key-error").innerText(), "Invalid API key.");
      assert.equal(await page.getAttribute("#key", "aria-invalid"), "true");
      await accessible(page, "a refused key");

      await signIn(page, keys.manage);
      assert.equal(await page.locator("#host").innerText(), HOST);
      assert.equal(await page.inputValue("#key"), "", "the field does not keep it");
      const stored = await page.evaluate(() => ({
        session: Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)),
        local: localStorage.length,
        cookie: document.cookie,
      }));
      assert.deepEqual(stored, { session: [keys.manage], local: 0, cookie: "" });
      assert.deepEqual(await context.cookies(), []);
      assert.ok(!page.url().includes(keys.manage.split("/")[1] ?? "?"));

      // A reload in the same tab stays signed in; another tab is not.
      await page.reload();
      await page.locator("#app").waitFor();
      const other = await context.newPage();
      await other.goto(`${service.url}/admin/`);
      await other.locator("#key").waitFor();
      assert.ok(await other.locator("#app").isHidden());
      await other.close();

      await page.getByRole("button", { name: "Sign out" }).click();
      await page.locator("#sign-in").waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
      assert.equal(await page.locator("#list > li").count(), 0, "nothing shown with the key stays");
      await page.reload();
      await page.locator("#key").waitFor();
      assert.ok(await page.locator("#app").isHidden(), "signed out after a reload");
    });
  });

  it("shows a key only what its scope allows", async () => {
    const kinds = (page: Page) =>
      page
        .locator("#create-form [data-kind]:not([hidden])")
        .evaluateAll((labels) => labels.map((label) => (label as HTMLElement).dataset.kind));
    await inTab(async ({ page }) => {
      await signIn(page, keys.create);
      assert.deepEqual(await kinds(page), ["account"]);
      assert.ok(await page.locator("#invites").isHidden(), "no list without the list power");
      assert.ok(await page.locator("#budget").isHidden(), "no budget without the budget power");
      assert.ok(await page.locator("#batch").isVisible(), "a batch of the kinds it may make");
      assert.deepEqual(await page.locator("#batch [data-kind]:not([hidden])").count(), 1);
      await create(page, "Account invite");
      await page.getByRole("button", { name: "Sign out" }).click();
      await signIn(page, keys.reset);
      assert.deepEqual(await kinds(page), ["reset"]);
      assert.ok(await page.locator("#batch").isHidden(), "no batch of resets on the page");
      assert.ok(await page.getByLabel("Note (optional)").isHidden(), "a reset has no note");
      await page.getByRole("button", { name: "Sign out" }).click();
      await signIn(page, keys.manage);
      assert.deepEqual(await kinds(page), ["account", "group", "reset"]);
      assert.ok(await page.locator("#invites").isVisible());
      assert.ok(await page.locator("#budget").isVisible());
      assert.equal(await page.getByLabel("Role").isVisible(), ON_13, "roles on Prosody 13 only");
    });
  });

  it("creates an account invite: its QR code reads back as its link, copy works, and Prosody's page registers through it; then it is used, with its redemption", async () => {
    await inTab(async ({ context, page }) => {
      await signIn(page, keys.manage);
      await accessible(page, "signed in");
      const link = await create(page, "Account invite", {
        username: "alice",
        groups: ["Team"],
        ttl: "1 day",
        note: "for Alice",
        ...(ON_13 ? { role: "prosody:member" } : {}),
      });
      assert.match(link, new RegExp(`^http://${HOST.replace(".", "\\.")}:\\d+/invites_page\\?`));
      assert.match(await page.locator("#result-summary").innerText(), /^Account invite for alice\. Expires /);
      assert.equal(await page.evaluate(() => document.activeElement?.id), "result-title", "focus goes to the result");
      assert.equal(await qrText(page.locator("#result-link canvas")), link, "the QR code is the link");
      await page.getByRole("button", { name: "Copy link" }).click();
      await page.locator("#result-link [role=status]", { hasText: "Link copied." }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link);
      await accessible(page, "an invite made");
      const pending = card(page, "for Alice");
      await pending.waitFor();
      assert.match(await pending.innerText(), /Account invite for alice/);
      assert.match(await pending.innerText(), /Groups\s+Team/);

      // A person opens the link: Prosody's invite page, then its registration form.
      const invited = await context.newPage();
      await invited.goto(link);
      assert.match(await invited.locator("h1").first().innerText(), new RegExp(`Invite to ${HOST}`));
      await invited.locator('a[href*="register?t="]').first().click();
      await invited.locator('input[name="user"]').fill("alice");
      await invited.locator('input[name="password"]').fill(PASSWORD);
      await invited.locator('form button[type="submit"]').click();
      await invited.getByText("Congratulations!").first().waitFor();
      await invited.close();

      await showState(page, "used");
      const used = card(page, "for Alice");
      await used.waitFor();
      assert.match(await used.innerText(), /Used/);
      await used.getByRole("button", { name: "Details" }).click();
      await used.getByText(`alice@${HOST}`).waitFor();
      assert.equal(await used.getByRole("button", { name: "Details" }).getAttribute("aria-expanded"), "true");
      await accessible(page, "a used invite with its redemption");
    });
  });

  it("creates a reusable group invite with a use cap, and a password reset, each with a QR code", async () => {
    await inTab(async ({ page }) => {
      await signIn(page, keys.manage);
      const group = await create(page, "Group invite", { groups: ["Staff", "Team"], maxUses: "2", note: "staff day" });
      assert.match(await page.locator("#result-summary").innerText(), /^Group invite: Staff, Team\./);
      assert.equal(await qrText(page.locator("#result-link canvas")), group);
      assert.ok(await inviteIsValid(group, prosody.httpPort));
      const reusable = card(page, "staff day");
      await reusable.waitFor();
      assert.match(await reusable.innerText(), /Uses\s+0 of 2/);

      await accessible(page, "a group invite made");
      await page.getByRole("radio", { name: /^Password reset/ }).check();
      await accessible(page, "the password reset form");
      const reset = await create(page, "Password reset", { username: "bob" });
      assert.match(await page.locator("#result-summary").innerText(), /^Password reset for bob\./);
      assert.equal(await qrText(page.locator("#result-link canvas")), reset);
      assert.ok(await inviteIsValid(reset, prosody.httpPort));
      await card(page, "Password reset for bob").first().waitFor();
    });
  });

  it("revokes an invite only after a confirmation; Prosody's page then calls it invalid", async () => {
    const made = await api<InviteJson>("/invites/account", keys.manage, { note: "to be revoked" });
    assert.equal(made.status, 201);
    const link = made.body.landing_page ?? "";
    await inTab(async ({ context, page }) => {
      await signIn(page, keys.manage);
      const doomed = card(page, "to be revoked");
      await doomed.getByRole("button", { name: "Revoke…" }).click();
      const dialog = page.getByRole("dialog", { name: "Revoke this invite?" });
      await dialog.waitFor();
      await accessible(page, "the confirmation");
      await dialog.getByRole("button", { name: "Keep it" }).click();
      assert.ok(await dialog.isHidden());
      assert.ok(await inviteIsValid(link, prosody.httpPort), "kept: still valid");

      await doomed.getByRole("button", { name: "Revoke…" }).click();
      await dialog.getByRole("button", { name: "Revoke", exact: true }).click();
      await doomed.waitFor({ state: "detached" });
      assert.ok(!(await inviteIsValid(link, prosody.httpPort)));
      await showState(page, "revoked");
      await card(page, "to be revoked").waitFor();
      await accessible(page, "the revoked invites");

      const invited = await context.newPage();
      await invited.goto(link);
      assert.match(await invited.locator("body").innerText(), /expired|invalid/i);
      assert.equal(await invited.locator('a[href*="register?t="]').count(), 0);
      await invited.close();
    });
  });

  it("sets the host's registration budget and reads it back from Prosody; removes it", async () => {
    const budget = async () => (await api<BudgetJson>("/budget", keys.manage)).body;
    await inTab(async ({ page }) => {
      await signIn(page, keys.manage);
      const panel = page.getByRole("region", { name: "Registrations" });
      await panel.getByText("No limit.").waitFor();
      assert.equal(await page.locator("#budget-state").innerText(), "Open: people with an invite can register.");
      await accessible(page, "the budget panel");
      await panel.getByLabel("Registrations").fill("0");
      await panel.getByRole("button", { name: "Set limit" }).click();
      assert.equal(await page.locator("#limit-error").innerText(), "Enter how many registrations, 1 or more.");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "limit-count");
      await panel.getByLabel("Registrations").fill("50");
      await panel.getByLabel("Per", { exact: true }).selectOption({ label: "day" });
      await panel.getByRole("button", { name: "Set limit" }).click();
      await panel.getByText(/^0 of 50 registrations a day used; the count starts again /).waitFor();
      const set = await budget();
      assert.deepEqual([set.limit, set.paused], [{ count: 50, window_seconds: 86_400 }, false]);
      assert.ok(set.resets_at && set.resets_at * 1_000 > Date.now(), "the window ends later");
      assert.ok(await page.locator("#limit-error").isHidden());
      await accessible(page, "a budget set");
    });
    // Another tab reads it from Prosody, as set.
    await inTab(async ({ page }) => {
      await signIn(page, keys.manage);
      await page.getByText(/^0 of 50 registrations a day used/).waitFor();
      assert.equal(await page.locator("#limit-count").inputValue(), "50");
      assert.equal(await page.getByLabel("Per", { exact: true }).inputValue(), "86400");
      await page.getByRole("button", { name: "Remove limit" }).click();
      await page.locator("#budget-usage", { hasText: "No limit." }).waitFor();
      assert.ok(await page.getByRole("button", { name: "Remove limit" }).isHidden());
    });
    assert.equal((await budget()).limit, null);
  });

  it("pauses registrations only after a confirmation, and resumes them", async () => {
    const paused = async () => (await api<BudgetJson>("/budget", keys.manage)).body.paused;
    await inTab(async ({ page }) => {
      await signIn(page, keys.manage);
      const pause = page.getByRole("button", { name: "Pause registrations…" });
      await pause.click();
      const dialog = page.getByRole("dialog", { name: "Pause registrations?" });
      await dialog.waitFor();
      assert.match(await dialog.innerText(), new RegExp(`Nobody can register on ${escape(HOST)} until you resume`));
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Keep them open");
      await accessible(page, "the pause confirmation");
      await page.keyboard.press("Enter");
      assert.ok(await dialog.isHidden());
      assert.equal(await paused(), false, "kept open");
      await pause.click();
      await dialog.getByRole("button", { name: "Pause", exact: true }).click();
      await page.locator("#budget-state", { hasText: /^Paused: nobody can register on/ }).waitFor();
      assert.equal(await paused(), true, "Prosody has it paused");
      assert.ok(await pause.isHidden());
      await accessible(page, "registrations paused");
      // A new tab sees it paused; resuming asks nothing.
      await page.reload();
      await page.locator("#budget-state", { hasText: /^Paused/ }).waitFor();
      await page.getByRole("button", { name: "Resume registrations" }).click();
      await page.locator("#budget-state", { hasText: /^Open/ }).waitFor();
      assert.ok(await pause.isVisible());
    });
    assert.equal(await paused(), false);
  });

  /** Opens the batch form and asks for account invites, one for each reference. */
  async function batchOf(page: Page, refs: readonly string[]): Promise<void> {
    await page.getByText("Batch of invites").click();
    await page.getByLabel("References, one a line").fill(refs.join("\n"));
    await page.getByLabel("Each valid for").selectOption({ label: "1 day" });
  }

  /** The pending invites of the manage key's host that carry one of these references. */
  async function pendingWith(refs: readonly string[]): Promise<InviteJson[]> {
    const all: InviteJson[] = [];
    for (let after = ""; ;) {
      const res = await api<InviteJson[]>(`/invites?state=pending&limit=100${after}`, keys.manage);
      all.push(...res.body);
      if (res.body.length < 100) break;
      after = `&after=${encodeURIComponent(res.body.at(-1)!.id)}`;
    }
    return all.filter((invite) => invite.ref !== null && refs.includes(invite.ref));
  }

  /** Revokes them, so that the host's first page of pending invites stays short for the tests after. */
  async function revokeAll(invites: readonly InviteJson[]): Promise<void> {
    for (const invite of invites) {
      assert.equal((await api(`/invites/${invite.id}`, keys.manage, undefined, "DELETE")).status, 204);
    }
  }

  it("makes a batch of 3 with references: a sheet of 3 QR codes that read back as their links, printed alone", async () => {
    const refs = ["Ana Lima, row 2", "Ben Okafor, row 3", "Cleo Park, row 4"];
    await inTab(
      async ({ page, requests }) => {
        await signIn(page, keys.manage);
        await batchOf(page, refs);
        await accessible(page, "the batch form");
        await page.getByRole("button", { name: "Make the batch" }).click();
        const sheet = page.getByRole("region", { name: `Invites to ${HOST}` });
        await sheet.waitFor();
        assert.equal(await page.evaluate(() => document.activeElement?.id), "sheet-title", "focus on the sheet");
        const cards = sheet.locator(".sheet-card");
        assert.equal(await cards.count(), 3);
        const made = await pendingWith(refs);
        assert.equal(made.length, 3, "three invites, one per reference");
        for (const [i, ref] of refs.entries()) {
          const card = cards.nth(i);
          assert.equal(await card.locator(".sheet-ref").innerText(), ref);
          const link = await card.locator(".sheet-link").innerText();
          assert.equal(made.find((invite) => invite.ref === ref)?.landing_page, link, `${ref}: its own invite's link`);
          assert.equal(await qrText(card.locator("canvas")), link, `${ref}: the QR code is its link`);
          assert.ok(await inviteIsValid(link, prosody.httpPort));
        }
        const batches = requests.filter((r) => r.url().endsWith("/invites/batch"));
        assert.equal(batches.length, 1, "one request");
        assert.match(batches[0]?.headers()["idempotency-key"] ?? "", /^[0-9a-f]{32}$/);
        assert.deepEqual(
          (batches[0]?.postDataJSON() as { invites: unknown[] }).invites,
          refs.map((ref) => ({ kind: "account", ttl: 86_400, ref })),
        );
        await accessible(page, "the sheet");

        await page.evaluate(() => {
          window.print = () => document.body.setAttribute("data-printed", "yes");
        });
        await sheet.getByRole("button", { name: "Print" }).click();
        assert.equal(await page.getAttribute("body", "data-printed"), "yes", "Print calls window.print()");
        await page.emulateMedia({ media: "print" });
        // No named function inside: tsx would wrap it in a helper (__name) the page does not have.
        const shown = await page.evaluate(() => {
          const visible = [...document.querySelectorAll("body *")].filter(
            (el) => el.getClientRects().length > 0 && !el.closest("#sheet") && !el.querySelector("#sheet"),
          );
          const card = document.querySelector(".sheet-card")!;
          return {
            outside: visible.map((el) => el.id || el.tagName),
            cards: document.querySelectorAll(".sheet-card canvas").length,
            print: document.getElementById("print")!.getClientRects().length > 0,
            breakInside: getComputedStyle(card).breakInside,
            // 45 mm at 96 px an inch: three a row on A4, big enough for a phone's camera.
            qrWidth: Math.round(card.querySelector("canvas")!.getBoundingClientRect().width),
            columns: getComputedStyle(document.getElementById("sheet-cards")!).gridTemplateColumns.split(" ").length,
            background: getComputedStyle(document.body).backgroundColor,
          };
        });
        assert.deepEqual(shown, {
          outside: [],
          cards: 3,
          print: false,
          breakInside: "avoid",
          qrWidth: 170,
          columns: 3,
          background: "rgb(255, 255, 255)",
        });
        await page.emulateMedia({ media: null });
        // The dark scheme, so that the white of the printed page is the print style sheet's doing.
      },
      { scheme: "dark" },
    );
    await revokeAll(await pendingWith(refs));
  });

  it("a batch sent again after its answer was lost is made once (the same Idempotency-Key); a new one gets its own", async () => {
    const refs = ["Dora, retried", "Emil, retried", "Finn, retried"];
    await inTab(async ({ page, requests }) => {
      await signIn(page, keys.manage);
      await batchOf(page, refs);
      // The service makes the batch, but its answer never reaches the page.
      await page.route("**/invites/batch", async (route) => {
        await route.fetch();
        await route.abort("connectionreset");
      });
      await page.getByRole("button", { name: "Make the batch" }).dblclick();
      await page.getByRole("alert").filter({ hasText: "The invites service does not answer" }).waitFor();
      assert.equal((await pendingWith(refs)).length, 3, "made, though the page never heard");
      await page.unroute("**/invites/batch");
      const replayed = page.waitForResponse((r) => r.url().endsWith("/invites/batch"));
      await page.getByRole("button", { name: "Make the batch" }).click();
      assert.equal((await replayed).headers()["idempotent-replayed"], "true");
      await page.locator("#sheet .sheet-card").nth(2).waitFor();
      assert.ok(await page.locator("#banner").isHidden());
      const sent = requests.filter((r) => r.url().endsWith("/invites/batch"));
      assert.equal(sent.length, 2, "the double click sent one, the retry one");
      const [first, retry] = sent.map((r) => r.headers()["idempotency-key"]);
      assert.ok(first && first === retry, "the retry carries the first key");
      const links = await page.locator(".sheet-link").allInnerTexts();
      const made = await pendingWith(refs);
      assert.equal(made.length, 3, "no second batch");
      assert.deepEqual(links.sort(), made.map((invite) => invite.landing_page).sort(), "the first batch's links");

      // The same lines, submitted anew: a new submission, a new key, a new batch.
      await page.getByLabel("References, one a line").fill(refs.join("\n"));
      const again = page.waitForResponse((r) => r.url().endsWith("/invites/batch"));
      await page.getByRole("button", { name: "Make the batch" }).click();
      assert.equal((await again).status(), 201);
      const third = requests
        .filter((r) => r.url().endsWith("/invites/batch"))
        .at(-1)
        ?.headers()["idempotency-key"];
      assert.ok(third && third !== first);
      assert.equal((await pendingWith(refs)).length, 6);
    });
    await revokeAll(await pendingWith(refs));
  });

  it("extends a pending invite from its card: a later expiry, the same link", async () => {
    const made = await api<InviteJson>("/invites/account", keys.manage, { ttl: 3_600, note: "to be extended" });
    assert.equal(made.status, 201);
    await inTab(async ({ page }) => {
      await signIn(page, keys.manage);
      const expiresShown = () => card(page, "to be extended").locator("dt:text-is('Expires') + dd").innerText();
      const before = await expiresShown();
      const extend = card(page, "to be extended").getByRole("button", { name: "Extend to 30 days" });
      await extend.click();
      await page.waitForFunction(() => document.activeElement?.textContent === "Extend to 30 days");
      assert.notEqual(await expiresShown(), before, "the card shows the new expiry");
      const after = await api<InviteJson>(`/invites/${made.body.id}`, keys.manage);
      const expected = Date.now() / 1_000 + 30 * 86_400;
      assert.ok(Math.abs(after.body.expires - expected) < 60, `expires in 30 days: ${after.body.expires}`);
      assert.equal(after.body.landing_page, made.body.landing_page, "the same link");
      assert.ok(await inviteIsValid(made.body.landing_page ?? "", prosody.httpPort));
      await page.locator("#announce", { hasText: /^Account invite: expires / }).waitFor();
    });
  });

  it("lists invites a page at a time, and by state: expired ones too", async () => {
    const expiring = await api<InviteJson>("/invites/account", keys.pages, { ttl: 1, note: "short-lived" });
    assert.equal(expiring.status, 201);
    for (let i = 1; i <= 22; i++) {
      const made = await api(`/invites/account`, keys.pages, { note: `invite ${String(i).padStart(2, "0")}` });
      assert.equal(made.status, 201);
    }
    // Past its expiry, the short-lived one is no longer pending: 22 are, in two pages.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (expiring.body.expires + 1) * 1_000 - Date.now())));
    await inTab(async ({ page }) => {
      await signIn(page, keys.pages);
      const items = page.locator("#list > li");
      const notes = () => page.locator("#list > li dd:first-of-type").allInnerTexts();
      await items.nth(19).waitFor();
      const first = await notes();
      assert.equal(first.length, 20, "20 a page");
      assert.ok(await page.getByRole("button", { name: "Previous page" }).isHidden());
      await page.getByRole("button", { name: "Next page" }).click();
      await page.waitForFunction(() => document.querySelectorAll("#list > li").length === 2);
      const second = await notes();
      assert.deepEqual(
        [...first, ...second].sort(),
        Array.from({ length: 22 }, (_, i) => `invite ${String(i + 1).padStart(2, "0")}`),
        "every pending invite once, over the pages",
      );
      assert.ok(await page.getByRole("button", { name: "Next page" }).isHidden(), "the last page");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "invites-title");
      await accessible(page, "the second page");
      await page.getByRole("button", { name: "Previous page" }).click();
      await items.nth(19).waitFor();
      assert.deepEqual(await notes(), first);
      await showState(page, "expired");
      await card(page, "short-lived").waitFor();
      assert.match(await card(page, "short-lived").innerText(), /Expired/);
      await accessible(page, "the expired invites");
    });
  });

  it("shows the API's errors in words next to the field they concern", async () => {
    await inTab(async ({ page }) => {
      await signIn(page, keys.manage);
      const error = async (field: string) => {
        await page.locator(`#${field}-error`).waitFor();
        return page.locator(`#${field}-error`).innerText();
      };
      const attempt = async (kind: Parameters<typeof create>[1], fields: Parameters<typeof create>[2]) => {
        await page.getByRole("radio", { name: new RegExp(`^${kind}`) }).check();
        if (fields?.username !== undefined) await page.getByLabel("User name").fill(fields.username);
        if (fields?.maxUses !== undefined) await page.getByLabel("At most this many people").fill(fields.maxUses);
        for (const group of fields?.groups ?? []) await page.getByRole("checkbox", { name: group }).check();
        await page.getByRole("button", { name: "Create invite" }).click();
      };
      await attempt("Account invite", { username: "a b" });
      assert.match(await error("username"), /^Expected a user name: 1 to 1023 characters, none of space, @/);
      assert.equal(await page.getAttribute("#username", "aria-invalid"), "true");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "username");
      await accessible(page, "a field's error");
      await attempt("Account invite", { username: "bob" });
      assert.equal(await error("username"), "An account with this name already exists.");
      await attempt("Password reset", { username: "nobody" });
      assert.equal(await error("username"), "No such account on this host.");
      await attempt("Group invite", { maxUses: "0", groups: ["Team"] });
      assert.equal(await error("max_uses"), "Expected a whole number from 1 to 1000000.");
      await page.getByLabel("At most this many people").fill("");
      await page.getByRole("checkbox", { name: "Team" }).uncheck();
      await attempt("Group invite", {});
      assert.equal(await error("groups"), "Choose at least one group.");
      assert.equal(await page.locator("#result").isHidden(), true, "nothing was made");
    });
  });

  it("a lost connection to Prosody shows a banner, not a blank page, and goes once Prosody is back", async () => {
    await inTab(
      async ({ page }) => {
        await signIn(page, keys.manage);
        await prosody.kill();
        try {
          await page.getByLabel("User name").fill("carol");
          await page.getByRole("button", { name: "Create invite" }).click();
          const banner = page.getByRole("alert").filter({ hasText: "cannot reach the XMPP server" });
          await banner.waitFor();
          const box = await banner.boundingBox();
          assert.ok(
            box && box.y >= 0 && box.y < 900,
            `the banner is in sight where the person is: ${JSON.stringify(box)}`,
          );
          assert.ok(await page.locator("#create-form").isVisible(), "the form stays");
          assert.equal(await page.inputValue("#username"), "carol", "what was typed is kept");
          await accessible(page, "the banner");
        } finally {
          await prosody.start();
        }
        await waitReady(service.url, 20_000);
        await page.getByRole("button", { name: "Try again" }).click();
        await page.locator("#banner").waitFor({ state: "hidden" });
        await create(page, "Account invite", { username: "carol" });
      },
      // A phone, scrolled down to the button: the banner must still be in sight.
      { width: 360 },
    );
  });

  it("a service that does not answer shows its own banner; what was typed stays", async () => {
    await inTab(async ({ page }) => {
      // The list the page loads at sign-in must have arrived before the service stops answering:
      // arriving late, its success would clear the banner this test waits for (a race seen once).
      const listed = page.waitForResponse((r) => r.url().includes("/invites?state="));
      await signIn(page, keys.manage);
      await listed;
      // The service's answers stop arriving (as when it is down or the network drops): every
      // request the page makes to the API fails at the connection.
      const api = `${service.url}/invites**`;
      await page.route(api, (route) => route.abort("connectionrefused"));
      try {
        await page.getByLabel("User name").fill("dora");
        await page.getByRole("button", { name: "Create invite" }).click();
        const banner = page.getByRole("alert").filter({ hasText: "The invites service does not answer" });
        await banner.waitFor();
        assert.ok(await page.locator("#create-form").isVisible(), "the form stays");
        assert.equal(await page.inputValue("#username"), "dora", "what was typed is kept");
      } finally {
        await page.unroute(api);
      }
      await page.getByRole("button", { name: "Try again" }).click();
      await page.locator("#banner").waitFor({ state: "hidden" });
      await create(page, "Account invite", { username: "dora" });
    });
  });

  it("writes markup from every displayed field as text", async () => {
    await inTab(async ({ page }) => {
      await page.evaluate(() => (document.title = "Invites"));
      await signIn(page, keys.xss);
      await create(page, "Account invite", { groups: [XSS], note: XSS });
      await create(page, "Group invite", { groups: [XSS], note: `group ${XSS}` });
      const item = card(page, `group ${XSS}`);
      await item.waitFor();
      assert.match(await item.locator("h3").innerText(), new RegExp(`^Group invite: ${escape(XSS)}`));
      assert.equal(await item.locator("dd").first().innerText(), `group ${XSS}`);
      await item.getByRole("button", { name: "Details" }).click();
      await item.locator(".details h4").waitFor();
      assert.equal(await page.getByRole("checkbox", { name: XSS }).count(), 1, "the group's name as its label");
      await page.getByRole("radio", { name: /^Password reset/ }).check();
      await page.getByLabel("User name").fill(XSS);
      await page.getByRole("button", { name: "Create invite" }).click();
      await page.locator("#username-error").waitFor();
      const markup = await page.evaluate(() => ({
        elements: document.querySelectorAll("main img, main script, main iframe, main [onerror]").length,
        title: document.title,
      }));
      assert.deepEqual(markup, { elements: 0, title: "Invites" });
      await accessible(page, "markup as text");
    });
  });

  it("its CSP blocks inline script and style, and no other site may frame it", async () => {
    await inTab(
      async ({ page }) => {
        await signIn(page, keys.manage);
        const blocked = await page.evaluate(async () => {
          const flags = window as unknown as { inlineRan?: boolean };
          const script = document.createElement("script");
          script.textContent = "window.inlineRan = true";
          document.body.append(script);
          const style = document.createElement("style");
          style.textContent = "body { background: rgb(255, 0, 0) !important; }";
          document.head.append(style);
          const probe = document.createElement("p");
          probe.setAttribute("style", "color: rgb(255, 0, 0)");
          document.body.append(probe);
          await new Promise((resolve) => setTimeout(resolve, 50));
          return {
            script: flags.inlineRan === true,
            style: getComputedStyle(document.body).backgroundColor === "rgb(255, 0, 0)",
            attribute: getComputedStyle(probe).color === "rgb(255, 0, 0)",
          };
        });
        assert.deepEqual(blocked, { script: false, style: false, attribute: false });
      },
      { violating: true },
    );
    framer = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end(`<!doctype html><title>framer</title><iframe src="${service.url}/admin/"></iframe>`);
    });
    await new Promise<void>((resolve) => framer!.listen(0, "127.0.0.1", resolve));
    const { port } = framer.address() as AddressInfo;
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`http://framer.test:${port}/`);
      await page.waitForTimeout(500);
      const frame = page.frames().find((f) => f !== page.mainFrame());
      assert.ok(frame);
      assert.equal(await frame.locator("#sign-in-form").count(), 0, "the page does not load in a frame");
    } finally {
      await context.close();
    }
  });

  it("works with the keyboard alone: sign in, make an invite, copy its link, revoke one, sign out", async () => {
    await api<InviteJson>("/invites/account", keys.manage, { note: "revoke by keyboard" });
    await inTab(async ({ page }) => {
      const focused = () =>
        page.evaluate(() => {
          const active = document.activeElement as HTMLElement | null;
          if (!active) return { id: "", text: "", name: "", card: "", outline: "none" };
          return {
            id: active.id,
            card: active.closest("li")?.textContent ?? "",
            text: (active.getAttribute("aria-label") ?? active.textContent ?? "").trim(),
            name: active.getAttribute("name") ?? "",
            outline: getComputedStyle(active).outlineStyle,
          };
        });
      /** Presses Tab until the focus is where `wanted` says (at most 60 times): no mouse, no click. */
      const tabTo = async (wanted: (f: Awaited<ReturnType<typeof focused>>) => boolean, what: string) => {
        for (let presses = 0; presses < 60; presses++) {
          await page.keyboard.press("Tab");
          const now = await focused();
          if (wanted(now)) {
            assert.notEqual(now.outline, "none", `the focus on ${what} is visible`);
            return;
          }
        }
        assert.fail(`Tab never reached ${what}`);
      };
      await tabTo((f) => f.id === "key", "the key field");
      await page.keyboard.type(keys.manage);
      await page.keyboard.press("Enter");
      await page.locator("#app").waitFor();
      await tabTo((f) => f.name === "kind", "the kind of invite");
      await page.keyboard.press("Space");
      await tabTo((f) => f.id === "username", "the user name");
      await page.keyboard.type("dave");
      await tabTo((f) => f.name === "groups", "the first group");
      await page.keyboard.press("Space");
      await tabTo((f) => f.id === "ttl", "the lifetime");
      await page.keyboard.press("ArrowDown");
      await tabTo((f) => f.id === "note", "the note");
      await page.keyboard.type("made by keyboard");
      await page.keyboard.press("Enter");
      await page.locator("#result-link input").waitFor();
      assert.match(await page.locator("#result-summary").innerText(), /^Account invite for dave\./);
      await tabTo((f) => f.text === "Copy link", "the copy button");
      await page.keyboard.press("Enter");
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await linkOf(page));
      const made = card(page, "made by keyboard");
      await made.waitFor();
      assert.match(await made.innerText(), /Groups\s+Staff/, "the first group was checked by keyboard");
      await tabTo((f) => f.text === "Details" && f.card.includes("made by keyboard"), "its details button");
      await page.keyboard.press("Enter");
      await made.getByText("Nobody yet.").waitFor();
      assert.equal(await made.getByRole("button", { name: "Details" }).getAttribute("aria-expanded"), "true");

      const doomed = card(page, "revoke by keyboard");
      await doomed.waitFor();
      await tabTo((f) => f.text === "Revoke…" && f.card.includes("revoke by keyboard"), "its revoke button");
      await page.keyboard.press("Enter");
      assert.equal((await focused()).text, "Keep it", "the safe choice has the focus");
      await page.keyboard.press("Shift+Tab");
      assert.equal((await focused()).text, "Revoke");
      await page.keyboard.press("Enter");
      await doomed.waitFor({ state: "detached" });

      await tabTo((f) => f.id === "state", "the state filter");
      await page.keyboard.press("ArrowDown");
      await card(page, "for Alice")
        .or(page.locator("#list-status", { hasText: "No used invites." }))
        .first()
        .waitFor();
      await tabTo((f) => f.id === "sign-out", "sign out");
      await page.keyboard.press("Enter");
      await page.locator("#sign-in").waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    });
  });

  for (const width of [360, 1280]) {
    for (const scheme of ["light", "dark"] as const) {
      it(`is readable at ${width} px in the ${scheme} scheme, with no axe-core violation (screenshot)`, async () => {
        await inTab(
          async ({ page }) => {
            await signIn(page, keys.show);
            await accessible(page, `signed in, ${width} px, ${scheme}`);
            const link = await create(page, "Group invite", {
              groups: ["Family"],
              maxUses: "20",
              ttl: "30 days",
              note: "Cousins, for the reunion",
            });
            await card(page, "Cousins, for the reunion").waitFor();
            await accessible(page, `an invite made, ${width} px, ${scheme}`);
            const layout = await page.evaluate(() => ({
              overflow: document.documentElement.scrollWidth - window.innerWidth,
              background: getComputedStyle(document.body).backgroundColor,
              create: document.getElementById("create")!.getBoundingClientRect().toJSON() as DOMRect,
              invites: document.getElementById("invites")!.getBoundingClientRect().toJSON() as DOMRect,
            }));
            assert.ok(layout.overflow <= 0, `no sideways scrolling at ${width} px (${layout.overflow} px over)`);
            const [r, g, b] = (layout.background.match(/\d+/g) ?? []).map(Number);
            const light = ((r ?? 0) + (g ?? 0) + (b ?? 0)) / 3 > 128;
            assert.equal(light, scheme === "light", `the ${scheme} scheme: ${layout.background}`);
            if (width >= 1280) assert.ok(layout.invites.left > layout.create.right, "side by side on a desktop");
            else assert.ok(layout.invites.top > layout.create.bottom, "one column on a phone");
            mkdirSync(SHOTS, { recursive: true });
            const path = join(SHOTS, `admin-page-${width}-${scheme}.png`);
            await page.screenshot({ path, fullPage: true });
            console.log(`screenshot: ${path}`);
            // The next screenshot shows the same invites.
            const id = new URL(link).search.slice(1);
            assert.equal((await api(`/invites/${id}`, keys.show, undefined, "DELETE")).status, 204);
          },
          { width, scheme },
        );
      });
    }
  }
});

function statusOf(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", reject);
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
