import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "../support/browser.js";
import { inviteIsValid } from "../support/invites.js";
import { startProsody, type RunningProsody } from "../support/prosody.js";
import { startService, type RunningService } from "../support/service.js";
import { createKey, freshKeyStore, serviceEnv, waitReady } from "../support/stack.js";

const HOST = "example.test";
const COMPONENT = { domain: "invites.example.test", secret: "browser-secret" };
const SIGNUP_HOST = "signup.test";

/** A sign-up page on another origin that asks the API for an invite with fetch() and a Bearer key. */
function signupPage(apiUrl: string, key: string): string {
  return `<!doctype html>
<html><head><title>Sign up</title></head><body>
<p id="status">working</p><a id="invite"></a><code id="location"></code>
<script>
  fetch(${JSON.stringify(`${apiUrl}/invites_api`)}, {
    method: "POST",
    headers: { Authorization: "Bearer " + ${JSON.stringify(key)}, Accept: "application/json" },
  })
    .then(async (res) => {
      const invite = await res.json();
      document.getElementById("location").textContent = res.headers.get("Location");
      const link = document.getElementById("invite");
      link.href = invite.url;
      link.textContent = invite.url;
      document.getElementById("status").textContent = "status " + res.status + ", expires " + invite.expires;
    })
    .catch((err) => { document.getElementById("status").textContent = "failed: " + err; });
</script></body></html>`;
}

describe("a person's browser, headless Chromium, against a real Prosody", () => {
  let prosody: RunningProsody;
  let service: RunningService;
  let keyStore: string;
  let browser: Browser;
  let signup: Server;
  const shots = mkdtempSync(join(tmpdir(), "invites-api-screenshots-"));

  before(async () => {
    prosody = await startProsody({ hosts: [HOST], components: [COMPONENT] });
    keyStore = freshKeyStore();
    service = await startService(serviceEnv(prosody, COMPONENT, keyStore));
    await waitReady(service.url, 10_000);
    browser = await launchChromium([HOST, SIGNUP_HOST]);
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (signup ? signup.close(resolve) : resolve(undefined)));
    await service?.stop();
    await prosody?.dispose();
  });

  it("a bookmark with ?key=…&redirect=true lands on Prosody's page for a valid invite", async () => {
    const key = await createKey(keyStore, HOST, "bookmark");
    const page = await browser.newPage();
    const response = await page.goto(`${service.url}/invites_api?key=${key}&redirect=true`);
    assert.ok(response);
    assert.equal(response.status(), 200);
    const landed = new URL(page.url());
    assert.equal(landed.hostname, HOST);
    assert.equal(landed.pathname, "/invites_page");
    const shot = join(shots, "invite-page.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    assert.equal((await page.locator("h1").first().innerText()).trim(), `Invite to ${HOST}`);
    assert.match(
      await page.locator("body").innerText(),
      new RegExp(`You have been invited to chat on ${HOST.replace(".", "\\.")}`),
    );
    assert.ok((await page.content()).includes(landed.search.slice(1)), "the page carries this invite's token");
    assert.ok(await inviteIsValid(page.url(), prosody.httpPort));
    await page.close();
  });

  it("a page on another origin gets an invite with fetch() and a Bearer header (CORS preflight passes)", async () => {
    const key = await createKey(keyStore, HOST, "signup page");
    signup = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(signupPage(service.url, key));
    });
    await new Promise<void>((resolve) => signup.listen(0, "127.0.0.1", resolve));
    const { port } = signup.address() as AddressInfo;
    const page = await browser.newPage();
    await page.goto(`http://${SIGNUP_HOST}:${port}/`);
    await page.waitForFunction(() => document.getElementById("status")?.textContent !== "working", null, {
      timeout: 10_000,
    });
    const status = await page.locator("#status").innerText();
    assert.match(status, /^status 201, expires \d{4}-/);
    const url = await page.locator("#invite").getAttribute("href");
    assert.ok(url);
    assert.equal(await page.locator("#location").innerText(), url, "Location is readable from the page");
    assert.ok(await inviteIsValid(url, prosody.httpPort));
    await page.screenshot({ path: join(shots, "signup-page.png") });
    // Chromium sends the preflight itself (playwright does not see it); the access log does.
    const answered = service.lines.some(
      (l) =>
        l.msg === "request" &&
        (l.req as { method?: string })?.method === "OPTIONS" &&
        (l.res as { statusCode?: number })?.statusCode === 204,
    );
    assert.ok(answered, "Chromium sent a CORS preflight and the service answered it with 204");
    await page.close();
  });
});
