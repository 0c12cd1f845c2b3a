import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import { axeViolations } from "../support/axe.js";
import { launchChromium } from "../support/browser.js";
import { recordSecret, recordTokensIn } from "../support/handedOut.js";
import { MANAGE_MODULES } from "../support/prosody.js";
import { readQrCode } from "../support/qr.js";
import { createTranslators, loadCatalogues } from "../../src/invitePage/i18n.js";
import { qrSvg } from "../../src/invitePage/qr.js";
import { compareScreen } from "../support/screens.js";
import { startReceiver, type Receiver } from "../support/receiver.js";
import { runCli } from "../support/service.js";
import { createKey, startStackWithInvitePage, type RunningStack } from "../support/stack.js";
import { login, registerWithInvite } from "../support/xmppClient.js";

// The invite page (issue 28) as the invited person meets it: in Debian's Chromium, against a real
// Prosody (0.12 or 13, PROSODY_VERSION) whose invites_page points at the service, as the docs'
// snippet has it, with Debian's own modules only (no mod_invites_register_web, no
// mod_password_policy). Every account made here then logs in over XMPP.
const HOST = "page.test";
// Prosody 13: a host whose ceiling lets the component give the admin role, so that an invite giving
// it lands on the page, and the role's effect shows (the admin's commands).
const ROLES_HOST = "roles.page.test";
const DELETE_USER = "http://jabber.org/protocol/admin#delete-user";
const COMPONENT = { domain: "invites.page.test", secret: "page-secret" };
const VERSION = process.env.PROSODY_VERSION === "13" ? "13" : "0.12";
const SCREENS = fileURLToPath(new URL("./screens/", import.meta.url));
const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));
const LANGUAGES = ["en", "de", "fr", "es", "it"] as const;
const ANDROID =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36";
const LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

interface Invite {
  id: string;
  uri: string;
  landing_page: string;
  expires: number;
}

describe(`the invite page in Chromium, Prosody ${VERSION}`, () => {
  let stack: RunningStack | undefined;
  let browser: Browser;
  let receiver: Receiver | undefined;
  let key = "";
  let seq = 0;
  const fresh = (prefix: string) => `${prefix}${process.pid % 1000}x${(seq += 1)}`;

  async function api<T>(method: string, path: string, json?: object): Promise<{ status: number; body: T }> {
    const res = await fetch(`${stack!.service.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(json ? { "Content-Type": "application/json" } : {}) },
      ...(json ? { body: JSON.stringify(json) } : {}),
    });
    const text = await res.text();
    recordTokensIn(text);
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async function invite(kind: "account" | "group" | "reset", body: object = {}): Promise<Invite> {
    const made = await api<Invite>("POST", `/invites/${kind}`, body);
    assert.equal(made.status, 201, JSON.stringify(made.body));
    return made.body;
  }

  async function tab(options: BrowserContextOptions = {}): Promise<[BrowserContext, Page]> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      locale: "en-GB",
      timezoneId: "UTC",
      userAgent: LINUX,
      reducedMotion: "reduce",
      ...options,
    });
    return [context, await context.newPage()];
  }

  /** A password of the kind people pick, recorded for the log scan. */
  function password(): string {
    const secret = `Blue-Tram-${fresh("")}-Lantern`;
    recordSecret("account password", secret);
    return secret;
  }

  /**
   * Fills the sign-up form as a person does and sends it; resolves with the answer's status, and
   * says what the page said when it is not 201.
   */
  async function signUp(page: Page, fields: { username?: string; password: string }): Promise<number> {
    if (fields.username !== undefined) await page.getByLabel("User name").fill(fields.username);
    await page.getByLabel(/^(New password|Password)$/).fill(fields.password);
    await page.getByLabel("Repeat the password").fill(fields.password);
    const [answer] = await Promise.all([
      page.waitForNavigation(),
      page.getByRole("button", { name: /^(Create my account|Set my new password)$/ }).click(),
    ]);
    const status = answer?.status() ?? 0;
    if (status !== 201) console.log(`sign-up answered ${status}: ${await page.locator("main").innerText()}`);
    return status;
  }

  const canLogIn = async (username: string, secret: string) => {
    const session = await login({ port: stack!.prosody.c2sPort, domain: HOST, username, password: secret });
    await session.close();
  };

  before(async () => {
    stack = await startStackWithInvitePage(
      {
        hosts: [HOST, ROLES_HOST],
        components: [COMPONENT],
        admins: [],
        hostModules: MANAGE_MODULES,
        hostOptions: {
          [ROLES_HOST]: {
            // admin_adhoc: its commands are what an admin sees and a member does not.
            modules: [...MANAGE_MODULES, "admin_adhoc"],
            lines: [`invites_manage_roles = { "prosody:admin", "prosody:registered" }`],
          },
        },
        extra: [
          `invites_manage_jids = { "${COMPONENT.domain}" }`,
          `invites_manage_groups = { team = "Team Rocket" }`,
        ].join("\n"),
      },
      { component: COMPONENT, env: { MANAGE_RATE: "off", INVITE_PAGE_RATE: "off" } },
    );
    key = await createKey(stack.keyStore, HOST, "page", "--scope", "manage");
    browser = await launchChromium([]);
    receiver = await startReceiver();
  });
  after(async () => {
    await browser?.close();
    await receiver?.stop();
    await stack?.stop();
  });

  it("opens a link made through the API: the host, apps for the platform, the invite for an app, a QR code of the page; nothing else", async () => {
    const made = await invite("account", { note: "Aunt Maria, from the reunion" });
    assert.ok(made.landing_page.startsWith(`${stack!.service.url}/invite/${HOST}/`), made.landing_page);
    const [context, page] = await tab({ viewport: { width: 360, height: 800 }, userAgent: ANDROID });
    try {
      const requested: string[] = [];
      page.on("request", (request) => requested.push(request.url()));
      const answer = await page.goto(made.landing_page);
      assert.equal(answer?.status(), 200);
      assert.match(String(answer?.headers()["content-security-policy"]), /default-src 'none'.*form-action 'self'/);
      assert.equal(await page.locator("h1").innerText(), `You are invited to ${HOST}`);
      const body = await page.locator("body").innerText();
      assert.ok(!body.includes("Aunt Maria"), "the note stays off the page");
      assert.match(body, /Suggested apps for Android/);
      assert.ok(await page.locator(".apps h3", { hasText: "Conversations" }).count());
      const opens = await page
        .locator('a[href^="xmpp:"]')
        .evaluateAll((links) => links.map((a) => a.getAttribute("href")));
      assert.ok(opens.length > 0 && opens.every((href) => href === made.uri), JSON.stringify(opens));
      assert.equal(await page.inputValue("#invite-uri"), made.uri);
      const qr = readQrCode(await page.locator(".qr-figure svg").screenshot());
      assert.equal(qr, made.landing_page);
      const foreign = requested.filter((url) => new URL(url).origin !== stack!.service.url);
      assert.deepEqual(foreign, []);
      assert.deepEqual(await axeViolations(page), []);
    } finally {
      await context.close();
    }
  });

  it("speaks each language, from Accept-Language, with a switcher that keeps the platform", async () => {
    const made = await invite("group", { groups: ["team"], ttl: 3600, max_uses: 3 });
    const titles = new Set<string>();
    for (const lang of LANGUAGES) {
      const [context, page] = await tab({
        locale: lang,
        extraHTTPHeaders: { "Accept-Language": `${lang};q=1, en;q=0.5` },
      });
      try {
        await page.goto(made.landing_page);
        assert.equal(await page.getAttribute("html", "lang"), lang);
        titles.add(await page.locator("h1").innerText());
        // The group's display name and a localized number.
        assert.match(await page.locator(".facts").innerText(), /Team Rocket/);
        assert.match(await page.locator(".facts").innerText(), /3/);
        assert.deepEqual(await axeViolations(page), [], `axe in ${lang}`);
      } finally {
        await context.close();
      }
    }
    assert.equal(titles.size, LANGUAGES.length, `one title per language: ${[...titles].join(" | ")}`);
    const [context, page] = await tab();
    try {
      await page.goto(`${made.landing_page}?platform=android`);
      await page.getByRole("link", { name: "Deutsch" }).click();
      await page.waitForURL(/lang=de/);
      assert.equal(await page.getAttribute("html", "lang"), "de");
      assert.match(page.url(), /platform=android/);
    } finally {
      await context.close();
    }
  });

  it("registers through the form, says at once that a name is taken, and the account logs in over XMPP", async () => {
    const taken = fresh("taken");
    const first = await invite("account");
    await registerWithInvite({
      port: stack!.prosody.c2sPort,
      domain: HOST,
      token: first.id,
      username: taken,
      password: password(),
    });
    const made = await invite("account");
    const [context, page] = await tab();
    try {
      await page.goto(made.landing_page);
      await page.getByLabel("User name").fill(taken);
      await page.locator("#username-status", { hasText: "already taken" }).waitFor({ timeout: 10_000 });
      const username = fresh("Ada");
      await page.getByLabel("User name").fill(username);
      await page.locator("#username-status", { hasText: "This name is free." }).waitFor({ timeout: 10_000 });
      const secret = password();
      assert.equal(await signUp(page, { password: secret }), 201);
      const jid = `${username.toLowerCase()}@${HOST}`;
      assert.match(await page.locator("h1").innerText(), new RegExp(`Your account ${jid} is ready`));
      await canLogIn(username.toLowerCase(), secret);
      const shown = await api<{ state: string; redemptions: Array<{ jid: string }> }>("GET", `/invites/${made.id}`);
      assert.equal(shown.body.state, "used");
      assert.deepEqual(
        shown.body.redemptions.map((r) => r.jid),
        [jid],
      );
      // Opened again, the used invite says so.
      const again = await page.goto(made.landing_page);
      assert.equal(again?.status(), 410);
      assert.match(await page.locator("h1").innerText(), /already been used/);
    } finally {
      await context.close();
    }
  });

  it("signs up without JavaScript", async () => {
    const made = await invite("account");
    const [context, page] = await tab({ javaScriptEnabled: false });
    try {
      await page.goto(made.landing_page);
      const username = fresh("nojs");
      const secret = password();
      assert.equal(await signUp(page, { username, password: secret }), 201);
      await canLogIn(username, secret);
    } finally {
      await context.close();
    }
  });

  it("signs up with the keyboard alone", async () => {
    const made = await invite("account");
    const [context, page] = await tab();
    try {
      await page.goto(made.landing_page);
      await page.getByLabel("User name").focus();
      const username = fresh("keys");
      const secret = password();
      await page.keyboard.type(username);
      // From the name to the password: past its hint and status, nothing else takes the focus.
      for (let i = 0; i < 5 && (await page.evaluate(() => document.activeElement?.id)) !== "password"; i += 1) {
        await page.keyboard.press("Tab");
      }
      assert.equal(await page.evaluate(() => document.activeElement?.id), "password");
      await page.keyboard.type(secret);
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "confirm");
      await page.keyboard.type(secret);
      const [answer] = await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
      assert.equal(answer?.status(), 201);
      await canLogIn(username, secret);
    } finally {
      await context.close();
    }
  });

  it("a group invite puts each account in its group, and a capped one refuses the next person with a clear page", async () => {
    const made = await invite("group", { groups: ["team"], ttl: 3600, max_uses: 2 });
    const people = [fresh("ann"), fresh("bob")];
    const secrets: string[] = [];
    for (const username of people) {
      const [context, page] = await tab();
      try {
        await page.goto(made.landing_page);
        secrets.push(password());
        assert.equal(await signUp(page, { username, password: secrets.at(-1)! }), 201);
      } finally {
        await context.close();
      }
    }
    const session = await login({
      port: stack!.prosody.c2sPort,
      domain: HOST,
      username: people[1]!,
      password: secrets[1]!,
    });
    try {
      const roster = await session.roster();
      const ann = roster.find((item) => item.jid === `${people[0]}@${HOST}`);
      assert.deepEqual(ann?.groups, ["Team Rocket"], JSON.stringify(roster));
    } finally {
      await session.close();
    }
    const [context, page] = await tab();
    try {
      const third = await page.goto(made.landing_page);
      assert.equal(third?.status(), 410);
      assert.match(await page.locator("h1").innerText(), /used by as many people as it allows/);
    } finally {
      await context.close();
    }
  });

  it("a reset sets a new password that then works, and the old one no longer does", async () => {
    const username = fresh("carol");
    const old = password();
    const first = await invite("account");
    await registerWithInvite({ port: stack!.prosody.c2sPort, domain: HOST, token: first.id, username, password: old });
    const reset = await invite("reset", { username });
    const [context, page] = await tab();
    try {
      await page.goto(reset.landing_page);
      assert.equal(await page.locator("h1").innerText(), "Set a new password");
      assert.equal(await page.getByLabel("User name").count(), 0, "a reset asks for no name");
      const secret = password();
      assert.equal(await signUp(page, { password: secret }), 201);
      assert.match(await page.locator("h1").innerText(), /new password is set/);
      await canLogIn(username, secret);
      await assert.rejects(canLogIn(username, old));
    } finally {
      await context.close();
    }
  });

  it("a sign-up on the page is seen as any registration: the webhook's invite.redeemed and the key's count", async () => {
    const added = await runCli(["webhook", "add", HOST, `${receiver!.url}/page`, "--allow-http", "--allow-private"], {
      KEY_STORE: stack!.keyStore,
    });
    assert.equal(added.code, 0, added.stderr);
    const made = await invite("account");
    const username = fresh("hook");
    const [context, page] = await tab();
    try {
      await page.goto(made.landing_page);
      assert.equal(await signUp(page, { username, password: password() }), 201);
    } finally {
      await context.close();
    }
    const jid = `${username}@${HOST}`;
    const redeemed = (r: { body: string }) => {
      const event = JSON.parse(r.body) as { type: string; data: { invite: string; jid?: string } };
      return event.type === "invite.redeemed" && event.data.invite === made.id && event.data.jid === jid;
    };
    await receiver!.until((all) => all.some(redeemed), 20_000);
    const keyId = key.split("/")[0]!;
    const shown = await runCli(["show", HOST, "--json", "--", keyId], { KEY_STORE: stack!.keyStore });
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok((JSON.parse(shown.stdout) as { accountsRegistered: number }).accountsRegistered >= 1, shown.stdout);
  });

  it("an invite's role applies to the account made on the page (13; 0.12 has no roles to give)", async () => {
    const rolesKey = await createKey(stack!.keyStore, ROLES_HOST, "roles", "--scope", "manage");
    const res = await fetch(`${stack!.service.url}/invites/account`, {
      method: "POST",
      headers: { Authorization: `Bearer ${rolesKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ roles: ["prosody:admin"] }),
    });
    const body = (await res.json()) as Invite & { message?: string };
    if (VERSION === "0.12") {
      assert.equal(res.status, 501, JSON.stringify(body));
      assert.match(String(body.message), /roles need Prosody 13/);
      return;
    }
    assert.equal(res.status, 201, JSON.stringify(body));
    recordTokensIn(JSON.stringify(body));
    assert.ok(body.landing_page.includes(`/invite/${ROLES_HOST}/`), body.landing_page);
    const username = fresh("admin");
    const secret = password();
    const [context, page] = await tab();
    try {
      await page.goto(body.landing_page);
      assert.equal(await signUp(page, { username, password: secret }), 201);
    } finally {
      await context.close();
    }
    const session = await login({ port: stack!.prosody.c2sPort, domain: ROLES_HOST, username, password: secret });
    try {
      assert.ok((await session.commands(ROLES_HOST)).includes(DELETE_USER), "the new account is an admin");
    } finally {
      await session.close();
    }
  });

  it("gives each invalid link its own page and status: unknown, expired, revoked", async () => {
    const expiring = await invite("account", { ttl: 1 });
    const revoked = await invite("account");
    assert.equal((await api("DELETE", `/invites/${revoked.id}`)).status, 204);
    const base = `${stack!.service.url}/invite/${HOST}`;
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const cases = [
      { url: `${base}/-NoSuchInviteToken`, status: 404, title: /not valid/ },
      { url: `${stack!.service.url}/invite/elsewhere.test/${revoked.id}`, status: 404, title: /not valid/ },
      { url: expiring.landing_page, status: 410, title: /expired/ },
      { url: revoked.landing_page, status: 410, title: /withdrawn/ },
    ];
    const [context, page] = await tab();
    try {
      for (const c of cases) {
        const answer = await page.goto(c.url);
        assert.equal(answer?.status(), c.status, c.url);
        assert.match(await page.locator("h1").innerText(), c.title);
        assert.deepEqual(await axeViolations(page), [], c.url);
      }
    } finally {
      await context.close();
    }
  });

  // Screens at 360 and 1280 px, light and dark, in English and German, compared with references
  // (test/e2e/screens/invite-page-*.png; UPDATE_SCREENS=1 writes them). The English light ones are the
  // docs' pictures too. What changes from run to run is set first to what the page would show for a
  // fixed invite: the expiry line (by the page's own catalogue), the token, the QR code.
  it("looks as its references do, at 360 and 1280 px, light and dark, in two languages", async () => {
    const made = await invite("group", { groups: ["team"], ttl: 7 * 86_400, max_uses: 5 });
    const translate = createTranslators(loadCatalogues());
    const fixedQr = String(await qrSvg("https://invites.page.test/invite/page.test/FixedTokenForTheScreens"));
    const expiresAt = new Date("2030-01-01T12:00:00Z");
    const problems: string[] = [];
    for (const lang of ["en", "de"] as const) {
      for (const viewport of [
        { width: 360, height: 800 },
        { width: 1280, height: 900 },
      ]) {
        for (const scheme of ["light", "dark"] as const) {
          const [context, page] = await tab({ viewport, colorScheme: scheme, locale: lang, userAgent: ANDROID });
          try {
            await page.goto(`${made.landing_page}?lang=${lang}`);
            const real = translate(lang)("landing.expires", { expires: new Date(made.expires * 1_000) });
            const fixed = translate(lang)("landing.expires", { expires: expiresAt });
            const swapped = await page.evaluate(
              ({ real, fixed, fixedQr }) => {
                const expiry = [...document.querySelectorAll(".facts li")].find((li) => li.textContent === real);
                if (expiry) expiry.textContent = fixed;
                const uri = document.getElementById("invite-uri") as HTMLInputElement | null;
                if (uri) uri.value = "xmpp:page.test?register;preauth=FixedTokenForTheScreens";
                const qr = document.querySelector(".qr-figure svg");
                qr?.insertAdjacentHTML("afterend", fixedQr);
                qr?.remove();
                return Boolean(expiry && uri && qr);
              },
              { real, fixed, fixedQr },
            );
            assert.ok(swapped, "the expiry line, the invite's URI and the QR code are where the screens expect them");
            const shot = await page.screenshot({ fullPage: true });
            const name = `invite-page-${lang}-${viewport.width}-${scheme}.png`;
            const problem = compareScreen(`${SCREENS}${name}`, shot);
            if (problem) problems.push(problem);
            if (lang === "en" && scheme === "light") {
              const docs = compareScreen(`${DOCS}invite-page-${viewport.width}-light.png`, shot);
              if (docs) problems.push(docs);
            }
          } finally {
            await context.close();
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });
});
