import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../support/browser.js";
import { recordSecret } from "../support/handedOut.js";
import { startOAuthStack } from "../support/oauthProsody.js";
import { httpOnLoopback } from "../support/webRegister.js";
import { MANAGE_MODULES } from "../support/prosody.js";
import type { RunningStack } from "../support/stack.js";

// Issue 29, part D: a person signs in to the service through their own Prosody's login page
// (Prosody 13's mod_http_oauth2), in Debian's Chromium. The service is on 127.0.0.1, Prosody's
// pages on the VirtualHost's own name (which Chromium resolves to loopback): two sites, so the
// way back from Prosody is the cross-site navigation it is in a real deployment.
//
// Prosody 0.12 has no mod_http_oauth2 (it needs 13): there the test is that a sign-in ends at a
// sign-in error, and nobody is signed in.
const on13 = process.env.PROSODY_VERSION === "13";
const VERSION = on13 ? "13" : "0.12";
const HOST = "oauth.test";
// In PEOPLE_OAUTH too, sent to the same Prosody HTTP: the accounts Prosody vouches for there are
// oauth.test's, never other.test's.
const OTHER = "other.test";
const COMPONENT = { domain: "invites.oauth.test", secret: "oauth-component-secret" };
const PASSWORD = `Quiet-Harbour-${process.pid}-Lantern`;

describe(`sign-in through Prosody's OAuth, in Chromium, Prosody ${VERSION}`, () => {
  let stack: RunningStack | undefined;
  let browser: Browser;
  let service = "";

  before(async () => {
    recordSecret("account password", PASSWORD);
    stack = await startOAuthStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        // boss is the host's admin (13: the prosody:admin role), to whom PEOPLE_POWERS below gives nothing.
        hostOptions: { [HOST]: { modules: MANAGE_MODULES, admins: [`boss@${HOST}`] } },
        extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
      },
      // No admin page: what is tested is where the browser lands and what GET /session says.
      {
        component: COMPONENT,
        oauthHost: HOST,
        peopleOAuthHosts: [HOST, OTHER],
        env: {
          ADMIN_PAGE: "off",
          // This host's roles replace the default's: registered accounts make invites, admins nothing.
          PEOPLE_POWERS: JSON.stringify({ [HOST]: { roles: { "prosody:registered": { scopes: ["create"] } } } }),
        },
      },
    );
    service = stack.service.url;
    stack.prosody.ctl(["register", "alice", HOST, PASSWORD]);
    stack.prosody.ctl(["register", "boss", HOST, PASSWORD]);
    browser = await launchChromium([HOST, OTHER]);
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function tab(): Promise<{ context: BrowserContext; page: Page; toService: string[] }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    // Everything the browser sent the service: URL, headers and body.
    const toService: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(service)) return;
      toService.push([request.url(), JSON.stringify(request.headers()), request.postData() ?? ""].join("\n"));
    });
    return { context, page, toService };
  }

  /** GET /session as the browser sends it (its cookies): the status and the JSON. */
  async function session(page: Page): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await page.goto(`${service}/session`);
    const text = (await res?.text()) ?? "";
    return {
      status: res?.status() ?? 0,
      body: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  }

  /** Prosody's login form, then its consent form; resolves once the browser is back on the service. */
  async function throughProsody(page: Page, opts: { consent?: "Allow" | "Deny"; username?: string } = {}) {
    assert.equal(new URL(page.url()).hostname, HOST, `Prosody's own page, not ${page.url()}`);
    await page.getByRole("textbox", { name: "Username" }).fill(opts.username ?? "alice");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    const consented = performance.now();
    await page.getByRole("button", { name: opts.consent ?? "Allow" }).click();
    await page.waitForURL((url) => url.href.startsWith(service) && !url.pathname.startsWith("/session/oauth"));
    return { consented };
  }

  if (!on13) {
    it("0.12 has no mod_http_oauth2: a sign-in ends at sign-in-error=oauth_unavailable, nobody signed in", async () => {
      const { context, page } = await tab();
      try {
        await page.goto(`${service}/session/oauth?host=${HOST}&next=/admin/`);
        assert.equal(page.url(), `${service}/admin/#sign-in-error=oauth_unavailable`);
        assert.equal((await session(page)).status, 401);
      } finally {
        await context.close();
      }
    });
    return;
  }

  it("a person signs in on Prosody's own page and comes back signed in; the service never sees the password", async () => {
    const { context, page, toService } = await tab();
    try {
      const started = performance.now();
      await page.goto(`${service}/session/oauth?host=${HOST}&next=/admin/`);
      const atProsody = performance.now();
      assert.match(await page.title(), /Sign in/, "Prosody's login page");
      const { consented } = await throughProsody(page);
      const signedIn = performance.now();
      assert.equal(page.url(), `${service}/admin/`);
      const { status, body } = await session(page);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.jid, `alice@${HOST}`);
      assert.equal(body.via, "oauth");
      // The service's own share: the access lines' times of the start and the callback.
      const took = (path: string) =>
        stack!.service.lines.find((line) => String((line.req as { url?: string })?.url).startsWith(path))?.responseTime;
      console.log(
        `OAuth sign-in: the service took ${took("/session/oauth?")} ms to send the browser to Prosody ` +
          `(discovery and registration: first sign-in) and ${took("/session/oauth/callback")} ms for the way back ` +
          `(code exchange, two revocations, session)`,
      );
      console.log(
        `OAuth sign-in round trip: ${Math.round(signedIn - started)} ms from the first click to signed in ` +
          `(${Math.round(atProsody - started)} ms to Prosody's login page; ` +
          `${Math.round(signedIn - consented)} ms from the click on Allow to back signed in; form filling by the test included)`,
      );
      const output = stack!.service.output();
      assert.ok(!output.includes(PASSWORD), "the password is nowhere in the service's log");
      assert.ok(toService.length >= 3, "the start, the callback and /session reached the service");
      assert.ok(!toService.some((request) => request.includes(PASSWORD)), "nor in any request the service got");
      assert.ok(!toService.some((request) => request.includes(encodeURIComponent(PASSWORD))));
    } finally {
      await context.close();
    }
  });

  it("next elsewhere (//evil.example, https://evil.example) lands on /admin/", async () => {
    for (const next of ["//evil.example", "https://evil.example/", "/\\evil.example"]) {
      const { context, page } = await tab();
      try {
        await page.goto(`${service}/session/oauth?host=${HOST}&next=${encodeURIComponent(next)}`);
        await throughProsody(page);
        assert.equal(page.url(), `${service}/admin/`, next);
        assert.equal((await session(page)).body.jid, `alice@${HOST}`);
      } finally {
        await context.close();
      }
    }
  });

  it("a callback replayed (same code and state) is refused, in the same browser and in another", async () => {
    const { context, page } = await tab();
    const other = await tab();
    try {
      let callback = "";
      page.on("request", (request) => {
        if (request.url().startsWith(`${service}/session/oauth/callback`)) callback = request.url();
      });
      await page.goto(`${service}/session/oauth?host=${HOST}`);
      await throughProsody(page);
      assert.equal(page.url(), `${service}/admin/`);
      assert.match(callback, /[?&]code=.+&?/);
      await page.goto(callback);
      assert.equal(page.url(), `${service}/admin/#sign-in-error=state_invalid`);
      await other.page.goto(callback);
      assert.equal(other.page.url(), `${service}/admin/#sign-in-error=state_invalid`);
      assert.equal((await session(other.page)).status, 401, "no session from a replay");
    } finally {
      await context.close();
      await other.context.close();
    }
  });

  it("a callback from another browser's sign-in (no nonce cookie: login CSRF) is refused", async () => {
    // Mallory signs in as herself but keeps the way back, then has Alice's browser open it.
    const mallory = await tab();
    const victim = await tab();
    try {
      // Her consent goes to Prosody from here, so that its redirect (the way back) is kept, not followed.
      let callback = "";
      await mallory.page.route(
        (url) => url.hostname === HOST && url.pathname === "/oauth2/authorize",
        async (route) => {
          const request = route.request();
          if (request.method() !== "POST" || !/(^|&)consent=/.test(request.postData() ?? "")) return route.continue();
          const answer = await httpOnLoopback(stack!.prosody.httpPort, request.url(), {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
            body: request.postData() ?? "",
          });
          callback = String(answer.headers.location ?? "");
          await route.fulfill({ status: 200, contentType: "text/plain", body: "kept" });
        },
      );
      await mallory.page.goto(`${service}/session/oauth?host=${HOST}`);
      await mallory.page.getByRole("textbox", { name: "Username" }).fill("alice");
      await mallory.page.getByLabel("Password").fill(PASSWORD);
      await mallory.page.getByRole("button", { name: "Sign in" }).click();
      await mallory.page.getByRole("button", { name: "Allow" }).click();
      await waitFor(() => callback !== "");
      assert.ok(callback.startsWith(`${service}/session/oauth/callback?`), callback);
      await victim.page.goto(callback);
      assert.equal(victim.page.url(), `${service}/admin/#sign-in-error=state_mismatch`);
      assert.equal((await session(victim.page)).status, 401);
    } finally {
      await mallory.context.close();
      await victim.context.close();
    }
  });

  it("a sign-in started for other.test, where Prosody vouches for an oauth.test account, is refused", async () => {
    const { context, page } = await tab();
    try {
      await page.goto(`${service}/session/oauth?host=${OTHER}`);
      await throughProsody(page);
      assert.equal(page.url(), `${service}/admin/#sign-in-error=wrong_host`);
      assert.equal((await session(page)).status, 401);
    } finally {
      await context.close();
    }
  });

  it("an account whose role gives it nothing here (PEOPLE_POWERS) is refused: sign-in-error=not_allowed", async () => {
    const { context, page } = await tab();
    try {
      await page.goto(`${service}/session/oauth?host=${HOST}`);
      await throughProsody(page, { username: "boss" });
      assert.equal(page.url(), `${service}/admin/#sign-in-error=not_allowed`);
      assert.equal((await session(page)).status, 401);
    } finally {
      await context.close();
    }
  });

  it("saying no on Prosody's page ends at sign-in-error=access_denied", async () => {
    const { context, page } = await tab();
    try {
      await page.goto(`${service}/session/oauth?host=${HOST}`);
      await throughProsody(page, { consent: "Deny" });
      assert.equal(page.url(), `${service}/admin/#sign-in-error=access_denied`);
      assert.equal((await session(page)).status, 401);
    } finally {
      await context.close();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
