import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { pino } from "pino";
import { AppError } from "../../src/errors.js";
import { INVITE_CSP } from "../../src/invitePage/page.js";
import { createRateLimits } from "../../src/limits/rateLimits.js";
import { fakeDoor, formPost, HOST, pageApp } from "../support/fakeDoor.js";

const ANDROID =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
const GOOD = { username: "bob", password: "correct horse battery", confirm: "correct horse battery" };

/** The page's visible text, tags dropped, for assertions on what a person reads. */
const text = (page: string) => page.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");

function setUp() {
  const fake = fakeDoor();
  fake.add("-tok_1", { inviter: "alice@example.test", groups: ["Family", "Book club"], usesLeft: 3 });
  return { fake, ...pageApp(fake.door) };
}

describe("the invite page, GET /invite/HOST/TOKEN", () => {
  it("shows a pending invite: the site, the inviter, the groups, the expiry, the uses left, with a strict CSP", async () => {
    const { request } = setUp();
    const res = await request(`/invite/${HOST}/-tok_1`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["content-security-policy"], INVITE_CSP);
    assert.match(INVITE_CSP, /form-action 'self'/);
    assert.match(INVITE_CSP, /script-src 'self'; style-src 'self'/);
    assert.equal(res.headers["referrer-policy"], "same-origin");
    assert.equal(res.headers["cache-control"], "no-store");
    assert.equal(res.headers["access-control-allow-origin"], undefined);
    const page = text(res.payload);
    assert.match(page, /You are invited to example\.test/);
    assert.match(page, /alice@example\.test invited you/);
    assert.match(page, /the groups Family and Book club/);
    assert.match(page, /valid until March 14, 2031/);
    assert.match(page, /3 more people can join/);
    assert.match(res.payload, /<svg class="qr"/);
    assert.match(res.payload, /value="xmpp:example\.test\?register;preauth=-tok_1"/);
    assert.doesNotMatch(res.payload, /<script>|style=/);
  });

  it("shows a named invite's address and no name field; a reset's account and only the password fields", async () => {
    const { fake, request } = setUp();
    fake.add("named", { username: "carol" });
    fake.add("reset", { kind: "reset", username: "dave", uri: undefined });
    const named = await request(`/invite/${HOST}/named`);
    assert.match(text(named.payload), /Your address will be carol@example\.test/);
    assert.doesNotMatch(named.payload, /name="username"/);
    const reset = await request(`/invite/${HOST}/reset`);
    assert.equal(reset.statusCode, 200);
    assert.match(text(reset.payload), /new password for the account dave@example\.test/);
    assert.doesNotMatch(reset.payload, /name="username"/);
    assert.match(reset.payload, /name="password"/);
  });

  it("says 404 'not valid' for a malformed token, a malformed or unknown host, before anything reaches the door", async () => {
    const { fake, request, knownHostCalls } = setUp();
    for (const path of [
      "/invite/example.test/bad.token",
      `/invite/example.test/${"a".repeat(65)}`,
      "/invite/exa%20mple/tok",
    ]) {
      const res = await request(path);
      assert.equal(res.statusCode, 404, path);
      assert.match(text(res.payload), /This invite link is not valid/);
    }
    assert.deepEqual(knownHostCalls, [], "a malformed link is refused before the host is looked up");
    assert.equal((await request("/invite/other.test/-tok_1")).statusCode, 404);
    assert.equal((await request(`/invite/other.test/-tok_1/name?username=bob`)).statusCode, 404);
    assert.equal((await request(formPost("/invite/other.test/-tok_1", GOOD))).statusCode, 404);
    assert.deepEqual(fake.calls, []);
    const unknown = await request(`/invite/${HOST}/unknown`);
    assert.equal(unknown.statusCode, 404);
    assert.deepEqual(fake.calls, [`landing ${HOST}`]);
  });

  it("says 410 with its own words for an invite used, used up, expired or revoked", async () => {
    const { fake, request } = setUp();
    fake.add("used", { state: "used" });
    fake.add("usedUp", { state: "used", usesLeft: 0 });
    fake.add("expired", { state: "expired", inviter: "alice@example.test" });
    fake.add("revoked", { state: "revoked" });
    const cases = {
      used: /This invite has already been used/,
      usedUp: /This invite has been used by as many people as it allows/,
      expired: /This invite has expired Ask alice@example\.test for a new invite/,
      revoked: /This invite has been withdrawn/,
    };
    for (const [token, words] of Object.entries(cases)) {
      const res = await request(`/invite/${HOST}/${token}`);
      assert.equal(res.statusCode, 410, token);
      assert.match(text(res.payload), words);
      assert.doesNotMatch(res.payload, /<form/);
    }
  });

  it("says 429 with Retry-After past the address's lookup rate, counting name checks too", async () => {
    const fake = fakeDoor();
    fake.add("tok");
    const limits = createRateLimits({
      defaultKeyRate: undefined,
      failureLimit: undefined,
      invitePageRate: { points: 2, durationSeconds: 60 },
    });
    const { request } = pageApp(fake.door, { limits });
    assert.equal((await request(`/invite/${HOST}/tok`)).statusCode, 200);
    assert.equal((await request(`/invite/${HOST}/tok/name?username=bob`)).statusCode, 200);
    const over = await request(`/invite/${HOST}/tok`);
    assert.equal(over.statusCode, 429);
    assert.ok(Number(over.headers["retry-after"]) > 0);
    assert.match(text(over.payload), /Too many attempts/);
    const check = await request(`/invite/${HOST}/tok/name?username=bob`);
    assert.deepEqual([check.statusCode, check.json()], [429, { error: "rate_limited" }]);
    // Another address has its own count.
    assert.equal((await request({ url: `/invite/${HOST}/tok`, remoteAddress: "192.0.2.99" })).statusCode, 200);
  });

  it("says 503 when Prosody cannot be reached, and logs it without the token", async () => {
    const lines: string[] = [];
    const log = pino(
      { level: "info" },
      new Writable({ write: (chunk, _enc, done) => done(void lines.push(String(chunk))) }),
    );
    const fake = fakeDoor();
    fake.state.failure = new AppError("xmpp_unavailable", "not connected to Prosody (token -tok_1)");
    const { request } = pageApp(fake.door, { log });
    const res = await request(`/invite/${HOST}/-tok_1`);
    assert.equal(res.statusCode, 503);
    assert.match(text(res.payload), /The server cannot be reached right now/);
    assert.ok(lines.some((line) => line.includes("xmpp_unavailable")));
    assert.ok(!lines.some((line) => line.includes("-tok_1")), lines.join(""));
  });

  it("says 503 'sign-ups are paused' (no form, no app, not 'not valid') while the host's registrations are paused", async () => {
    const fake = fakeDoor();
    fake.add("-tok_1", { paused: true });
    const { request } = pageApp(fake.door);
    for (const lang of ["en", "fr"]) {
      const res = await request(`/invite/${HOST}/-tok_1?lang=${lang}`);
      assert.equal(res.statusCode, 503);
      const page = text(res.payload);
      assert.match(page, lang === "en" ? /Sign-ups are paused on example\.test/ : /Les inscriptions sont suspendues/);
      assert.doesNotMatch(res.payload, /<form|xmpp:/);
      assert.doesNotMatch(page, /not valid/);
    }
  });

  it("logs /invite/HOST/[token] in the access line, never the token, the name or the password", async () => {
    const lines: string[] = [];
    const log = pino(
      { level: "info" },
      new Writable({ write: (chunk, _enc, done) => done(void lines.push(String(chunk))) }),
    );
    const fake = fakeDoor();
    fake.add("-tok_1");
    const { request } = pageApp(fake.door, { log });
    await request(`/invite/${HOST}/-tok_1?lang=de`);
    await request(`/invite/${HOST}/-tok_1/name?username=bob`);
    await request(formPost(`/invite/${HOST}/-tok_1`, GOOD));
    await new Promise((resolve) => setImmediate(resolve));
    const urls = lines.map((line) => (JSON.parse(line) as { req?: { url?: string } }).req?.url);
    assert.deepEqual(urls, [
      `/invite/${HOST}/[token]?lang=de`,
      `/invite/${HOST}/[token]/name?username=[redacted]`,
      `/invite/${HOST}/[token]`,
    ]);
    for (const secret of ["-tok_1", GOOD.password]) assert.ok(!lines.join("").includes(secret), secret);
  });

  it("escapes an inviter's and a group's markup: text on the page, never elements", async () => {
    const fake = fakeDoor();
    fake.add("tok", { inviter: '<script>alert("x")</script>@evil.test', groups: ['<img src=x onerror="alert(1)">'] });
    const { request } = pageApp(fake.door);
    const res = await request(`/invite/${HOST}/tok`);
    assert.equal(res.statusCode, 200);
    assert.doesNotMatch(res.payload, /<script>alert|<img src=x/);
    assert.match(res.payload, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;@evil\.test/);
    assert.match(res.payload, /&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;/);
  });

  it("serves the page's built files for good, and takes a non-file under /invite/assets/ for a token", async () => {
    const fake = fakeDoor();
    const { request } = pageApp(fake.door, { hosts: [HOST, "assets"] });
    const js = await request("/invite/assets/invite-TEST1234.js");
    assert.equal(js.statusCode, 200);
    assert.equal(js.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.match(String(js.headers["content-type"]), /^text\/javascript/);
    assert.equal((await request("/invite/assets/sometoken")).statusCode, 404);
    assert.deepEqual(fake.calls, ["landing assets"]);
  });

  it("serves nothing at /invite/ when the page is off", async () => {
    const fake = fakeDoor();
    fake.add("tok");
    const { request } = pageApp(fake.door, { off: true });
    assert.equal((await request(`/invite/${HOST}/tok`)).statusCode, 404);
    assert.deepEqual(fake.calls, []);
  });
});

describe("the invite page's languages and platforms", () => {
  it("takes ?lang=, else Accept-Language, else English; the switcher names each language in itself and keeps the platform", async () => {
    const { request } = setUp();
    const german = await request(`/invite/${HOST}/-tok_1?lang=de`);
    assert.match(german.payload, /<html lang="de">/);
    assert.match(text(german.payload), /Du bist zu example\.test eingeladen/);
    const french = await request({ url: `/invite/${HOST}/-tok_1`, headers: { "accept-language": "fr-CH, de;q=0.5" } });
    assert.match(french.payload, /<html lang="fr">/);
    const unknown = await request({ url: `/invite/${HOST}/-tok_1?lang=xx`, headers: { "accept-language": "es" } });
    assert.match(unknown.payload, /<html lang="es">/);
    const fallback = await request({ url: `/invite/${HOST}/-tok_1`, headers: { "accept-language": "ja" } });
    assert.match(fallback.payload, /<html lang="en">/);
    const android = await request({ url: `/invite/${HOST}/-tok_1?lang=it`, headers: { "user-agent": ANDROID } });
    for (const [lang, name] of Object.entries({
      en: "English",
      de: "Deutsch",
      fr: "Français",
      es: "Español",
      it: "Italiano",
    })) {
      const link = `href="/invite/${HOST}/-tok_1\\?lang=${lang}&amp;platform=android"\\s+hreflang="${lang}"\\s+lang="${lang}"[^>]*>${name}</a`;
      assert.match(android.payload, new RegExp(link), lang);
    }
    assert.equal(german.headers.vary, "Accept-Language, User-Agent");
  });

  it("suggests apps for the User-Agent's platform, or the one ?platform= picks, with install and open links", async () => {
    const { request } = setUp();
    const apps = async (headers: Record<string, string>, query = "") => {
      const res = await request({ url: `/invite/${HOST}/-tok_1${query}`, headers });
      return [...res.payload.matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]);
    };
    assert.deepEqual(await apps({ "user-agent": ANDROID }), ["Conversations"]);
    const iphone =
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    assert.deepEqual(await apps({ "user-agent": iphone }), ["Monal", "Siskin IM"]);
    assert.deepEqual(
      await apps({ "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0" }),
      ["Dino", "Gajim"],
    );
    assert.deepEqual(
      await apps({
        "user-agent":
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
      }),
      ["Gajim"],
    );
    assert.deepEqual(
      await apps({
        "user-agent":
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
      }),
      ["Monal"],
    );
    assert.deepEqual(await apps({ "user-agent": "curl/8.5.0" }), []);
    assert.deepEqual(await apps({ "user-agent": ANDROID }, "?platform=ios"), ["Monal", "Siskin IM"]);
    const page = (await request({ url: `/invite/${HOST}/-tok_1?lang=fr`, headers: { "user-agent": ANDROID } })).payload;
    assert.match(page, /href="https:\/\/f-droid\.org\/packages\/eu\.siacs\.conversations\/" rel="noreferrer noopener"/);
    assert.match(
      page,
      /<a class="button primary" href="xmpp:example\.test\?register;preauth=-tok_1">Ouvrir l’invitation dans Conversations/,
    );
    assert.ok(
      page.includes(`href="/invite/${HOST}/-tok_1?lang=fr&amp;platform=ios"`),
      "the platform switcher keeps the language",
    );
  });
});

describe("the invite page's sign-up, POST /invite/HOST/TOKEN", () => {
  it("registers the account through the door with the client's address: 201 with the new address", async () => {
    const { fake, request } = setUp();
    const res = await request(formPost(`/invite/${HOST}/-tok_1`, { ...GOOD, username: " bob " }));
    assert.equal(res.statusCode, 201);
    assert.match(text(res.payload), /Your account bob@example\.test is ready/);
    assert.match(text(res.payload), /Enter your address bob@example\.test and your password/);
    assert.deepEqual(fake.registrations, [{ username: "bob", password: GOOD.password, ip: "192.0.2.7" }]);
    assert.ok(!res.payload.includes(GOOD.password));
  });

  it("re-renders the form with 400 and the field's error, keeping the name and never the password", async () => {
    const { fake, request } = setUp();
    const cases: Array<[Record<string, string>, string, RegExp]> = [
      [{ password: "short1", confirm: "short1" }, "password", /at least 8 characters/],
      [{ password: "é".repeat(512), confirm: "é".repeat(512) }, "password", /too long/],
      [{ password: "my-BOB-password", confirm: "my-BOB-password" }, "password", /must not contain the user name/],
      [{ password: "long enough 1", confirm: "long enough 2" }, "confirm", /not the same/],
      [{ username: "", password: GOOD.password, confirm: GOOD.password }, "username", /Choose a user name/],
      [{ username: "bob smith", password: GOOD.password, confirm: GOOD.password }, "username", /cannot be used/],
    ];
    for (const [fields, field, words] of cases) {
      const res = await request(formPost(`/invite/${HOST}/-tok_1`, { username: "bob", ...fields }));
      assert.equal(res.statusCode, 400, String(words));
      const error = new RegExp(`<p id="${field}-error" class="error">([^<]+)</p>`).exec(res.payload);
      assert.match(error?.[1] ?? "", words);
      const described = `id="${field}"\\s+name="${field}"\\s+aria-describedby="[^"]*${field}-error"\\s+aria-invalid="true"`;
      assert.match(res.payload, new RegExp(described));
      if (fields.username !== "") assert.match(res.payload, new RegExp(`value="${fields.username ?? "bob"}"`));
      assert.ok(!res.payload.includes(fields.password ?? ""), "the password is never written back");
    }
    assert.deepEqual(fake.registrations, []);
  });

  it("says 409 on the form when the name is taken", async () => {
    const { request } = setUp();
    const res = await request(formPost(`/invite/${HOST}/-tok_1`, { ...GOOD, username: "taken" }));
    assert.equal(res.statusCode, 409);
    assert.match(text(res.payload), /This name is already taken/);
    assert.match(res.payload, /value="taken"/);
  });

  it("says 410 when the invite is gone by the time the form is sent", async () => {
    const { fake, request } = setUp();
    fake.add("-tok_1", { state: "expired" });
    const res = await request(formPost(`/invite/${HOST}/-tok_1`, GOOD));
    assert.equal(res.statusCode, 410);
    assert.match(text(res.payload), /This invite has expired/);
  });

  it("refuses with 403 a post from another site, by Sec-Fetch-Site or by Origin", async () => {
    const { fake, request } = setUp();
    const refused: Array<Record<string, string>> = [
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site" },
      { origin: "https://evil.test" },
      { origin: "null" },
    ];
    for (const headers of refused) {
      const res = await request(formPost(`/invite/${HOST}/-tok_1`, GOOD, headers));
      assert.equal(res.statusCode, 403, JSON.stringify(headers));
      assert.match(text(res.payload), /This form was sent from another site/);
    }
    assert.deepEqual(fake.calls, []);
    // The page's own origin, even behind a proxy ending TLS, and a browser sending neither header.
    const proxied = { host: "chat.example.test", origin: "https://chat.example.test", "sec-fetch-site": "" };
    assert.equal((await request(formPost(`/invite/${HOST}/-tok_1`, GOOD, proxied))).statusCode, 201);
  });

  it("counts sign-ups per address against their own, stricter limit", async () => {
    const fake = fakeDoor();
    fake.add("tok");
    const limits = createRateLimits({
      defaultKeyRate: undefined,
      failureLimit: undefined,
      inviteSignupRate: { points: 1, durationSeconds: 600 },
    });
    const { request } = pageApp(fake.door, { limits });
    assert.equal((await request(formPost(`/invite/${HOST}/tok`, { ...GOOD, password: "x" }))).statusCode, 400);
    const over = await request(formPost(`/invite/${HOST}/tok`, GOOD));
    assert.equal(over.statusCode, 429);
    assert.ok(Number(over.headers["retry-after"]) > 500);
    assert.deepEqual(fake.registrations, []);
  });

  it("says 503 'sign-ups are paused', with Retry-After when Prosody says until when, when the redeem is refused for the budget", async () => {
    const { fake } = setUp();
    const { request: closed } = pageApp({
      ...fake.door,
      redeem: () =>
        Promise.reject(new AppError("registrations_closed", "budget used up", { retryAfterSeconds: 3_600 })),
    });
    const res = await closed(formPost(`/invite/${HOST}/-tok_1`, { ...GOOD, username: "bob" }));
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers["retry-after"], "3600");
    assert.match(text(res.payload), /Sign-ups are paused on example\.test/);
    assert.doesNotMatch(res.payload, /<form/);
  });

  it("sets a reset's new password without a name: 201, 'your new password is set'", async () => {
    const fake = fakeDoor();
    fake.add("reset", { kind: "reset", username: "dave" });
    const { request } = pageApp(fake.door);
    const contains = await request(
      formPost(`/invite/${HOST}/reset`, { password: "Dave-2031-pass", confirm: "Dave-2031-pass" }),
    );
    assert.equal(contains.statusCode, 400, "the account's name counts for a reset too");
    const res = await request(
      formPost(`/invite/${HOST}/reset`, {
        username: "mallory",
        ...{ password: GOOD.password, confirm: GOOD.password },
      }),
    );
    assert.equal(res.statusCode, 201);
    assert.match(text(res.payload), /Your new password is set/);
    assert.match(text(res.payload), /dave@example\.test/);
    assert.deepEqual(fake.registrations, [{ password: GOOD.password, ip: "192.0.2.7" }]);
  });
});

describe("the invite page's name check, GET /invite/HOST/TOKEN/name", () => {
  it("answers free, taken or invalid as JSON; 404 and 410 as the page does", async () => {
    const { fake, request } = setUp();
    fake.add("gone", { state: "used" });
    const check = async (path: string) => {
      const res = await request({ url: path, headers: { accept: "application/json" } });
      return [res.statusCode, res.json()];
    };
    assert.deepEqual(await check(`/invite/${HOST}/-tok_1/name?username=bob`), [200, { name: "free" }]);
    assert.deepEqual(await check(`/invite/${HOST}/-tok_1/name?username=taken`), [200, { name: "taken" }]);
    assert.deepEqual(await check(`/invite/${HOST}/-tok_1/name?username=a%20b`), [200, { name: "invalid" }]);
    assert.deepEqual(await check(`/invite/${HOST}/-tok_1/name`), [200, { name: "invalid" }]);
    assert.deepEqual(await check(`/invite/${HOST}/nope/name?username=bob`), [404, { error: "invite_not_found" }]);
    assert.deepEqual(await check(`/invite/${HOST}/gone/name?username=bob`), [410, { error: "invite_gone" }]);
  });
});
