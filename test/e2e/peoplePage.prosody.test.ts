import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { axeViolations } from "../support/axe.js";
import { launchChromium } from "../support/browser.js";
import { recordSecret, recordTokensIn } from "../support/handedOut.js";
import { openInbox, type Inbox } from "../support/inbox.js";
import { MANAGE_MODULES } from "../support/prosody.js";
import { createKey, startStackWithSignIn, type RunningStack } from "../support/stack.js";

// A member signs in to the admin page as a person (issue 29), in Debian's Chromium, against a real
// Prosody (0.12 or 13) and the real service: they type their chat address, the component sends
// their account a sign-in link (received here by a real XMPP client logged in as them), the link
// opens the page signed in; they see their quota, invite within it and are refused past it with
// the date a place frees; they turn the "someone joined" message off; they sign out everywhere.
const HOST = "people.test";
const COMPONENT = { domain: "invites.people.test", secret: "people-page-component-secret" };
const VERSION = process.env.PROSODY_VERSION === "13" ? "13" : "0.12";
const PASSWORD = `mira-${Math.random().toString(36).slice(2, 12)}`;
recordSecret("account password", PASSWORD);
// Two invites a week: the third is refused.
const POWERS = JSON.stringify({ "*": { roles: { "prosody:registered": { scopes: ["create"], quota: "2/7d" } } } });
const LINK = /(\S+)#sign-in=([A-Za-z0-9_-]{43})/;

describe(`a person signs in to the admin page with a link, in Chromium, Prosody ${VERSION}`, () => {
  let stack: RunningStack | undefined;
  let inbox: Inbox | undefined;
  let browser: Browser | undefined;
  let publicUrl = "";
  const contexts: BrowserContext[] = [];

  /** A fresh browser (its own cookies), with its page at /admin/. */
  async function openPage(): Promise<Page> {
    const context = await browser!.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${publicUrl}/admin/`);
    return page;
  }

  /** Asks for a link on the page, as the person would, and waits for the chat message; the link. */
  async function askForLink(page: Page): Promise<string> {
    const before = inbox!.received.length;
    await page.getByLabel("Your chat address").fill(`mira@${HOST}`);
    await page.getByRole("button", { name: "Send me a sign-in link" }).click();
    await page.locator("#link-sent").waitFor({ state: "visible" });
    assert.match(await page.locator("#link-sent").innerText(), /a message with a sign-in link is on its way/);
    const body = await inbox!.next(
      COMPONENT.domain,
      (text) => LINK.test(text) && !inbox!.received.slice(0, before).some((m) => m.body === text),
      15_000,
    );
    assert.ok(body, "the sign-in message reached mira's client");
    const [link = "", , token = ""] = LINK.exec(body)!;
    recordSecret("sign-in token", token);
    return link;
  }

  before(async () => {
    const started = await startStackWithSignIn(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: MANAGE_MODULES } },
        extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
      },
      { component: COMPONENT, env: { PEOPLE_POWERS: POWERS } },
    );
    stack = started;
    publicUrl = started.publicUrl;
    await createKey(stack.keyStore, HOST, "desk");
    stack.prosody.ctl(["register", "mira", HOST, PASSWORD]);
    inbox = await openInbox({ port: stack.prosody.c2sPort, domain: HOST, username: "mira", password: PASSWORD });
    browser = await launchChromium([HOST]);
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await inbox?.close();
    await stack?.stop();
  });

  it("signs in with the link, shows the quota, invites within it, is refused past it with the date, and signs out everywhere", async (t) => {
    const first = await openPage();
    // No key needed: the person's form is there, and no axe violation on it.
    await first.locator("#person-sign-in").waitFor({ state: "visible" });
    assert.deepEqual(await axeViolations(first), []);

    const asked = performance.now();
    const link = await askForLink(first);
    const arrived = performance.now();
    assert.ok(link.startsWith(`${publicUrl}/admin/#sign-in=`), link);
    // Opened from the chat app: a new tab of the same browser.
    const page = await first.context().newPage();
    await page.goto(link);
    await page.locator("#me").waitFor({ state: "visible" });
    // The sign-in round trip's figure (BENCHMARKS.md): the click to the message in the client, and
    // the link's page load to the page signed in.
    t.diagnostic(
      `sign-in by link: click to message ${Math.round(arrived - asked)} ms, link to signed in ${Math.round(performance.now() - arrived)} ms`,
    );
    // The token left the address bar at once; the cookie is HttpOnly: the page's script never reads it.
    assert.equal(new URL(page.url()).hash, "");
    assert.equal(await page.evaluate(() => document.cookie), "");
    assert.equal(await page.locator("#who").innerText(), `mira@${HOST}`);
    assert.equal(await page.locator("#me-quota").innerText(), "2 of 2 invites left this week.");
    assert.deepEqual(await axeViolations(page), []);

    // Two account invites through the form: each takes a place, the next frees a week after the first.
    const makeOne = async () => {
      await page.getByRole("radio", { name: /Account invite/ }).check();
      await page.getByRole("button", { name: "Create invite" }).click();
    };
    await makeOne();
    await page.locator("#result").waitFor({ state: "visible" });
    recordTokensIn(await page.locator("#result-link").innerText());
    await page.waitForFunction(() => document.querySelector("#me-quota")?.textContent?.startsWith("1 of 2"));
    assert.match(await page.locator("#me-quota").innerText(), /^1 of 2 invites left this week, next on .+\.$/);
    await makeOne();
    await page.waitForFunction(() => document.querySelector("#me-quota")?.textContent?.startsWith("0 of 2"));
    // The third: refused, saying when the next place frees.
    await makeOne();
    const refusal = page.locator("#create-error");
    await refusal.waitFor({ state: "visible" });
    // In the words and the time zone of the person's browser, the date the session says.
    const expected = await page.evaluate(async () => {
      const res = await fetch("/session", { headers: { accept: "application/json" } });
      const nextAt = ((await res.json()) as { quota: { next_at: string } }).quota.next_at;
      const when = new Intl.DateTimeFormat(undefined, {
        weekday: "short",
        day: "numeric",
        month: "short",
        hour: "numeric",
        minute: "2-digit",
      });
      return `You have made all the invites your quota allows for now. The next one frees on ${when.format(new Date(nextAt))}.`;
    });
    assert.equal(await refusal.innerText(), `⚠ ${expected}`.replace("⚠ ", ""));
    // Her own invites are listed, and only hers: the desk key's invite is not.
    await page.locator("#invites").waitFor({ state: "visible" });
    await page.waitForFunction(() => document.querySelectorAll("#list > li").length === 2);

    // The joined-with-your-invite message, turned off: the service keeps it.
    const notify = page.getByLabel("Send me a chat message when someone joins with my invite");
    assert.equal(await notify.isChecked(), true);
    await notify.uncheck();
    await page.waitForFunction(async () => {
      const res = await fetch("/session", { headers: { accept: "application/json" } });
      return ((await res.json()) as { notify: boolean }).notify === false;
    });

    // A second browser signed in too; "Sign out everywhere" in the first ends both.
    // Pasted into the address bar of the tab that asked for it (only the fragment changes).
    const other = await openPage();
    await other.goto(await askForLink(other));
    await other.locator("#me").waitFor({ state: "visible" });
    assert.equal(new URL(other.url()).hash, "");
    await page.getByRole("button", { name: "Sign out everywhere" }).click();
    await page.locator("#sign-in").waitFor({ state: "visible" });
    await other.reload();
    await other.locator("#sign-in").waitFor({ state: "visible" });
    assert.equal(await other.locator("#me").isVisible(), false);
    const after = await other.evaluate(async () => (await fetch("/session")).status);
    assert.equal(after, 401);
  });

  it("a link opened twice signs in once: the second browser is told it was used; a planted session id is never taken over", async () => {
    const first = await openPage();
    // Session fixation: a session id planted in the browser before sign-in (by a script of a
    // sibling site, say) is never the one the person gets, nor does it become a session.
    const planted = "Fixated0Session0Value0Planted0By0Attacker00"; // the shape of a session id: 43 characters
    await first.context().addCookies([{ name: "invites_session", value: planted, url: publicUrl }]);
    const link = await askForLink(first);
    await first.goto(link);
    await first.locator("#me").waitFor({ state: "visible" });
    const cookies = await first.context().cookies(publicUrl);
    const session = cookies.find((c) => c.name === "invites_session");
    assert.ok(session && session.value !== planted && session.httpOnly && session.sameSite === "Strict");
    recordSecret("session cookie", session.value);
    const withPlanted = await fetch(`${publicUrl}/session`, { headers: { cookie: `invites_session=${planted}` } });
    assert.equal(withPlanted.status, 401);
    // Another browser (forwarded, or replayed by whoever saw the message): a page load of its own.
    const context = await browser!.newContext();
    contexts.push(context);
    const second = await context.newPage();
    await second.goto(link);
    const error = second.locator("#key-error");
    await error.waitFor({ state: "visible" });
    assert.equal(await error.innerText(), "That sign-in link has been used or has expired. Ask for a new one.");
    assert.equal(await second.locator("#me").isVisible(), false);
    assert.equal(await second.evaluate(async () => (await fetch("/session")).status), 401);
  });
});
