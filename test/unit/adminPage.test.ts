import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { get, type Server } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import Keyv from "keyv";
import { pino } from "pino";
import { ConfigError } from "../../src/config.js";
import { ADMIN_CSP, loadAdminPage } from "../../src/http/adminPage.js";
import { createHttpApp, type HttpDeps } from "../../src/http/server.js";
import { createKeyStore } from "../../src/keys/keyStore.js";
import { createRateLimits } from "../../src/limits/rateLimits.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import type { InviteIssuer } from "../../src/xmpp/inviteIssuer.js";
import { fakeManager } from "../support/fakeManager.js";
import { statedAdminScriptBudget } from "../support/docFigures.js";

/** Where `npm run build` puts the page (scripts/buildAdminPage.ts), and the package ships it from. */
const BUILT = fileURLToPath(new URL("../../dist/http/admin/", import.meta.url));

const issuer: InviteIssuer = {
  createAccountInvite: () => Promise.reject(new Error("unused")),
  createResetInvite: () => Promise.reject(new Error("unused")),
};

/** A built page as `npm run build` leaves it: index.html and hashed files. */
function builtPage(): string {
  const dir = mkdtempSync(join(tmpdir(), "admin-page-"));
  writeFileSync(join(dir, "index.html"), '<!doctype html><script type="module" src="admin-ABCD1234.js"></script>');
  writeFileSync(join(dir, "admin-ABCD1234.js"), "console.log('the page');".repeat(20));
  writeFileSync(join(dir, "notes.txt"), "not a file the page serves");
  return dir;
}

function listen(deps: Partial<HttpDeps>): Promise<{ server: Server; base: string }> {
  const server = createHttpApp({
    keys: createKeyStore(new Keyv()),
    metrics: createMetrics({ xmppOnline: () => true }),
    limits: createRateLimits({ defaultKeyRate: undefined, failureLimit: undefined }),
    issuer,
    manager: fakeManager().manager,
    log: pino({ level: "silent" }),
    xmppStatus: () => ({ online: true }),
    ...deps,
  }).listen(0, "127.0.0.1");
  return new Promise((resolve) =>
    server.once("listening", () =>
      resolve({ server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

/** A GET as a browser sends it (fetch() would add Cache-Control: no-cache to a conditional request). */
function browserGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on("error", reject);
  });
}

describe("the admin page's files, served at /admin/", () => {
  let server: Server;
  let base: string;

  before(async () => {
    ({ server, base } = await listen({ adminPage: loadAdminPage(builtPage()) }));
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  it("serves index.html at /admin/ with the strict CSP and security headers, revalidated each time", async () => {
    const res = await browserGet(`${base}/admin/`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers["content-type"]), /^text\/html/);
    assert.equal(res.headers["content-security-policy"], ADMIN_CSP);
    assert.match(ADMIN_CSP, /script-src 'self'; style-src 'self'/);
    assert.match(ADMIN_CSP, /frame-ancestors 'none'/);
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.equal(res.headers["x-frame-options"], "DENY");
    assert.equal(res.headers["referrer-policy"], "no-referrer");
    assert.equal(res.headers["cache-control"], "no-cache");
    const again = await browserGet(`${base}/admin/`, { "If-None-Match": String(res.headers.etag) });
    assert.equal(again.status, 304);
  });

  it("serves hashed files for good, gzipped when the browser takes gzip, each encoding with its own tag", async () => {
    const plain = await browserGet(`${base}/admin/admin-ABCD1234.js`);
    assert.equal(plain.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.match(String(plain.headers["content-type"]), /^text\/javascript/);
    assert.equal(plain.headers.vary, "Accept-Encoding");
    const gzipped = await browserGet(`${base}/admin/admin-ABCD1234.js`, { "Accept-Encoding": "gzip, br" });
    assert.equal(gzipped.headers["content-encoding"], "gzip");
    assert.deepEqual(gunzipSync(gzipped.body), plain.body);
    assert.ok(gzipped.body.length < plain.body.length);
    assert.notEqual(gzipped.headers.etag, plain.headers.etag);
    const headers = { "Accept-Encoding": "gzip", "If-None-Match": String(gzipped.headers.etag) };
    assert.equal((await browserGet(`${base}/admin/admin-ABCD1234.js`, headers)).status, 304);
  });

  it("/admin goes to /admin/; other files, other methods and other paths are refused", async () => {
    const bare = await browserGet(`${base}/admin`);
    assert.deepEqual([bare.status, bare.headers.location], [308, "/admin/"]);
    for (const path of ["/admin/notes.txt", "/admin/missing.js", "/admin/%2e%2e%2fpackage.json", "/admin/x/y"]) {
      assert.equal((await browserGet(`${base}${path}`)).status, 404, path);
    }
    const post = await fetch(`${base}/admin/`, { method: "POST" });
    assert.deepEqual([post.status, post.headers.get("allow")], [405, "GET"]);
  });

  it("without files (ADMIN_PAGE=off) there is no page", async () => {
    const off = await listen({});
    try {
      assert.equal((await browserGet(`${off.base}/admin/`)).status, 404);
    } finally {
      await new Promise((resolve) => off.server.close(resolve));
    }
  });

  it("a missing build stops the start, naming ADMIN_PAGE and the fix", () => {
    const empty = mkdtempSync(join(tmpdir(), "admin-page-empty-"));
    assert.throws(
      () => loadAdminPage(empty),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /ADMIN_PAGE is on but the page is not built.*npm run build.*ADMIN_PAGE=off/);
        return true;
      },
    );
  });
});

describe("the admin page as built by npm run build", () => {
  it("sends at most the docs' budget of JavaScript gzipped, all of it (the QR code chunk too)", (t) => {
    // Every script, gzipped as the service sends it (loadAdminPage is what serve reads them with).
    const scripts = [...loadAdminPage(BUILT)].filter(([name]) => name.endsWith(".js"));
    assert.ok(scripts.length >= 2, "the page's script and its QR code chunk");
    const total = scripts.reduce((sum, [, file]) => sum + file.gzipped.length, 0);
    const budget = statedAdminScriptBudget();
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
    t.diagnostic(`admin page JavaScript: ${kb(total)} gzipped in ${scripts.length} files (at most ${kb(budget)})`);
    assert.ok(total > 1_000, `${total} bytes: not the page`);
    assert.ok(
      total <= budget,
      `${kb(total)} gzipped, above the docs' ${kb(budget)}: ` +
        scripts.map(([name, file]) => `${name} ${kb(file.gzipped.length)}`).join(", "),
    );
  });
});
