import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import Koa from "koa";
import { clientAddress } from "../../src/http/clientAddress.js";
import { createSignInLimits } from "../../src/people/signInLimits.js";
import Router from "@koa/router";
import { inject } from "light-my-request";
import { pino } from "pino";
import { loadServiceConfig } from "../../src/config.js";
import { errorResponses } from "../../src/http/errors.js";
import { createOAuthClients } from "../../src/people/oauthClient.js";
import { verifyIdToken } from "../../src/people/oauthIdToken.js";
import { sameOriginPath } from "../../src/people/oauthNext.js";
import { mountOAuthRoutes } from "../../src/people/oauthRoutes.js";
import { memoryOneTime } from "../../src/store/memory/oneTime.js";

const log = pino({ level: "silent" });
const PUBLIC = "http://127.0.0.1:8080";
const b64 = (value: string | Buffer) => Buffer.from(value).toString("base64url");

function sign(claims: Record<string, unknown>, secret: string, alg = "HS256"): string {
  const head = `${b64(JSON.stringify({ alg, typ: "JWT" }))}.${b64(JSON.stringify(claims))}`;
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`;
}

/**
 * mod_http_oauth2 as the service meets it, behind `fetch`: metadata, registration, the token
 * endpoint (code once, PKCE S256, client_secret_basic, an HS256 ID token) and revocation. The
 * person's visit to the authorization endpoint is `approve` (or `deny`).
 */
function fakeProsody(opts: { host: string; base: string; issuer?: string; vouchFor?: string }) {
  const issuer = opts.issuer ?? `https://${opts.host}:5281`;
  const clients = new Map<string, string>();
  const codes = new Map<string, { challenge: string; nonce: string; clientId: string; jid: string }>();
  const revoked: string[] = [];
  const calls: string[] = [];
  let registrations = 0;
  let down = false;
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(String(input));
    calls.push(`${init?.method ?? "GET"} ${url.origin}${url.pathname}`);
    if (down) throw new TypeError("fetch failed");
    assert.ok(url.href.startsWith(opts.base), `the back channel goes to PEOPLE_OAUTH's address, not ${url.href}`);
    const path = url.href.slice(opts.base.length);
    const form = new URLSearchParams(String(init?.body ?? ""));
    const basic = () => {
      const [id = "", secret = ""] = Buffer.from(
        String((init?.headers as Record<string, string>).Authorization).replace(/^Basic /, ""),
        "base64",
      )
        .toString()
        .split(":")
        .map(decodeURIComponent);
      return clients.get(id) === secret ? id : undefined;
    };
    if (path === "/.well-known/oauth-authorization-server") {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/oauth2/authorize`,
        token_endpoint: `${issuer}/oauth2/token`,
        registration_endpoint: `${issuer}/oauth2/register`,
        revocation_endpoint: `${issuer}/oauth2/revoke`,
        code_challenge_methods_supported: ["S256"],
        authorization_response_iss_parameter_supported: true,
      });
    }
    if (path === "/oauth2/register") {
      const body = JSON.parse(String(init?.body)) as { redirect_uris: string[] };
      assert.deepEqual(body.redirect_uris, [`${PUBLIC}/session/oauth/callback`]);
      registrations += 1;
      const id = `client-${registrations}-${b64(randomBytes(6))}`;
      clients.set(id, createHash("sha256").update(id).digest("hex"));
      return json(201, { client_id: id, client_secret: clients.get(id), client_secret_expires_at: 0 });
    }
    if (path === "/oauth2/token") {
      const clientId = basic();
      const code = codes.get(form.get("code") ?? "");
      codes.delete(form.get("code") ?? "");
      if (!clientId || !code || code.clientId !== clientId) return json(401, { error: "invalid_client" });
      const verifier = form.get("code_verifier") ?? "";
      if (b64(createHash("sha256").update(verifier).digest()) !== code.challenge) {
        return json(400, { error: "invalid_grant" });
      }
      const secret = clients.get(clientId) ?? "";
      const now = Math.floor(Date.now() / 1000);
      return json(200, {
        access_token: `access-${b64(randomBytes(8))}`,
        refresh_token: `refresh-${b64(randomBytes(8))}`,
        token_type: "bearer",
        id_token: sign(
          { iss: issuer, sub: `xmpp:${code.jid}`, aud: clientId, nonce: code.nonce, iat: now, exp: now + 3600 },
          secret,
        ),
      });
    }
    if (path === "/oauth2/revoke") {
      if (!basic()) return new Response("", { status: 401 });
      revoked.push(form.get("token") ?? "");
      return new Response("", { status: 200 });
    }
    return new Response("", { status: 404 });
  };

  /** The person signs in as `username` and allows: the callback URL Prosody redirects to. */
  function approve(authorizeUrl: string, username: string): string {
    const q = new URL(authorizeUrl).searchParams;
    assert.equal(q.get("response_type"), "code");
    assert.equal(q.get("code_challenge_method"), "S256");
    assert.ok(clients.has(q.get("client_id") ?? ""), "a client Prosody registered");
    const code = b64(randomBytes(12));
    codes.set(code, {
      challenge: q.get("code_challenge") ?? "",
      nonce: q.get("nonce") ?? "",
      clientId: q.get("client_id") ?? "",
      jid: `${username}@${opts.vouchFor ?? opts.host}`,
    });
    const back = new URL(q.get("redirect_uri") ?? "");
    back.search = new URLSearchParams({ code, iss: issuer, state: q.get("state") ?? "" }).toString();
    return back.toString();
  }

  function deny(authorizeUrl: string): string {
    const q = new URL(authorizeUrl).searchParams;
    const back = new URL(q.get("redirect_uri") ?? "");
    back.search = new URLSearchParams({ error: "access_denied", state: q.get("state") ?? "", iss: issuer }).toString();
    return back.toString();
  }

  return {
    fetch,
    approve,
    deny,
    revoked,
    calls,
    registrations: () => registrations,
    setDown: (value: boolean) => (down = value),
  };
}

type Fake = ReturnType<typeof fakeProsody>;

function service(
  fakes: Record<string, Fake>,
  opts: { off?: boolean; mayAct?: (jid: string) => boolean; countStart?: (ctx: Koa.Context) => Promise<void> } = {},
) {
  const started: Array<{ jid: string; host: string; via: string }> = [];
  const providers = Object.fromEntries(Object.keys(fakes).map((host) => [host, `http://127.0.0.1:5280/${host}`]));
  // One fetch for every host, sent to the fake whose address it is.
  const fetch: typeof globalThis.fetch = (input, init) => {
    const host = Object.keys(fakes).find((h) => String(input).startsWith(`${providers[h]}/`)) ?? "";
    return fakes[host]!.fetch(input, init);
  };
  const app = new Koa();
  const router = new Router();
  mountOAuthRoutes(
    router,
    opts.off
      ? undefined
      : {
          publicUrl: PUBLIC,
          providers,
          oneTime: memoryOneTime(),
          log,
          fetch,
          ...(opts.mayAct ? { mayAct: async (jid: string) => opts.mayAct!(jid) } : {}),
          ...(opts.countStart ? { countStart: opts.countStart } : {}),
          startSession: async (ctx, who) => {
            started.push(who);
            ctx.append("Set-Cookie", "invites_session=x; Path=/; HttpOnly; SameSite=Strict");
          },
        },
  );
  app.use(errorResponses(log));
  app.use(router.routes());
  const request = (path: string, cookie?: string) =>
    inject(app.callback(), { method: "GET", url: path, headers: cookie ? { Cookie: cookie } : {} });
  /** GET /session/oauth: the authorize URL and the nonce cookie. */
  async function begin(host: string, next?: string) {
    const query = new URLSearchParams({ host, ...(next !== undefined ? { next } : {}) });
    const res = await request(`/session/oauth?${query}`);
    assert.equal(res.statusCode, 302, res.body);
    const setCookie = ([] as string[]).concat(res.headers["set-cookie"] ?? []);
    const cookie = setCookie.find((c) => c.startsWith("invites_oauth="))?.split(";")[0];
    return { location: String(res.headers.location), cookie, setCookie };
  }
  async function finish(callbackUrl: string, cookie: string | undefined) {
    const url = new URL(callbackUrl);
    const res = await request(url.pathname + url.search, cookie);
    return { status: res.statusCode, location: String(res.headers.location ?? ""), res };
  }
  return { app, request, begin, finish, started };
}

describe("sign-in through Prosody 13's mod_http_oauth2 (issue 29, part D)", () => {
  it("PEOPLE_OAUTH: a JSON object host → https base; a bad value names the variable; it needs PUBLIC_URL", () => {
    const minimal = {
      COMPONENT_SERVICE: "xmpp://127.0.0.1:5347",
      COMPONENT_DOMAIN: "c.example",
      COMPONENT_SECRET: "s",
    };
    const at = (PEOPLE_OAUTH: string) =>
      loadServiceConfig({ ...minimal, PUBLIC_URL: "https://invites.example.com", PEOPLE_OAUTH }).peopleOAuth;
    assert.deepEqual(at('{"Example.com": "https://example.com:5281/", "b.example": "http://127.0.0.1:5280"}'), {
      "example.com": "https://example.com:5281",
      "b.example": "http://127.0.0.1:5280",
    });
    assert.deepEqual(loadServiceConfig(minimal).peopleOAuth, {});
    for (const [value, why] of [
      ["example.com", /PEOPLE_OAUTH is not JSON/],
      ['["https://example.com"]', /PEOPLE_OAUTH expected a JSON object/],
      ['{"example.com": "http://example.com:5280"}', /PEOPLE_OAUTH gives example\.com no usable address/],
      ['{"example.com": "https://u:pw@example.com"}', /PEOPLE_OAUTH gives example\.com no usable address/],
      ['{"a@example.com": "https://example.com"}', /PEOPLE_OAUTH names "a@example\.com"/],
    ] as const) {
      assert.throws(() => at(value), why, value);
    }
    assert.throws(
      () => loadServiceConfig({ ...minimal, PEOPLE_OAUTH: '{"example.com": "https://example.com"}' }),
      /PEOPLE_OAUTH needs PUBLIC_URL/,
    );
  });

  it("next: only an absolute path of this origin", () => {
    for (const good of ["/admin/", "/admin/?x=1#invites", "/a/b%2F"]) assert.equal(sameOriginPath(good), good);
    for (const bad of [
      "//evil.example",
      "/\\evil.example",
      "/a\\b",
      "https://evil.example",
      "evil.example",
      "",
      "/\tx",
      "/ x",
      "javascript:alert(1)",
      "/" + "a".repeat(3000),
      ["/admin/"],
      undefined,
    ]) {
      assert.equal(sameOriginPath(bad), undefined, String(bad));
    }
  });

  it("an ID token counts only signed with the client secret, for this client, issuer and nonce, unexpired", () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: "https://x.example", aud: "c1", sub: "xmpp:Alice@X.example", nonce: "n1", exp: now + 60 };
    const expected = { secret: "s3cret", issuer: "https://x.example", clientId: "c1", nonce: "n1", now };
    assert.equal(verifyIdToken(sign(claims, "s3cret"), expected), "Alice@x.example");
    const refused = (token: string, why: RegExp) => assert.throws(() => verifyIdToken(token, expected), why);
    refused(sign(claims, "other"), /bad signature/);
    refused(sign(claims, "s3cret", "none"), /unexpected alg/);
    refused(`${b64('{"alg":"none"}')}.${b64(JSON.stringify(claims))}.`, /unexpected alg/);
    refused(sign({ ...claims, aud: "c2" }, "s3cret"), /wrong aud/);
    refused(sign({ ...claims, iss: "https://y.example" }, "s3cret"), /wrong iss/);
    refused(sign({ ...claims, nonce: "n2" }, "s3cret"), /wrong nonce/);
    refused(sign({ ...claims, exp: now - 120 }, "s3cret"), /expired/);
    refused(sign({ ...claims, sub: "alice" }, "s3cret"), /sub/);
  });

  it("sends the browser to Prosody with a code request, PKCE S256, a state and an HttpOnly SameSite=Lax nonce cookie", async () => {
    const prosody = fakeProsody({ host: "a.example", base: "http://127.0.0.1:5280/a.example" });
    const { begin } = service({ "a.example": prosody });
    const { location, cookie, setCookie } = await begin("a.example", "/admin/");
    const url = new URL(location);
    assert.equal(`${url.origin}${url.pathname}`, "https://a.example:5281/oauth2/authorize", "the advertised endpoint");
    const q = url.searchParams;
    assert.equal(q.get("redirect_uri"), `${PUBLIC}/session/oauth/callback`);
    assert.equal(q.get("scope"), "openid", "only who it is: no xmpp role");
    assert.match(q.get("state") ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.ok(cookie, "a nonce cookie");
    const attributes = setCookie.find((c) => c.startsWith("invites_oauth=")) ?? "";
    assert.match(attributes, /; HttpOnly/);
    assert.match(attributes, /; SameSite=Lax/);
    assert.match(attributes, /; Path=\//);
    // A second sign-in reuses the registration (one per host per instance), with a state, verifier
    // and nonce of its own.
    const second = new URL((await begin("a.example")).location).searchParams;
    assert.equal(prosody.registrations(), 1);
    for (const name of ["state", "code_challenge", "nonce"]) assert.notEqual(second.get(name), q.get(name), name);
  });

  it("counts each sign-in started against the client's address: past SIGN_IN_ADDRESS_RATE it ends at sign-in-error=sign_in_limited, before Prosody is asked", async () => {
    const prosody = fakeProsody({ host: "a.example", base: "http://127.0.0.1:5280/a.example" });
    const limits = createSignInLimits({ accountRate: undefined, addressRate: { points: 2, durationSeconds: 900 } });
    const kept: string[] = [];
    const { begin, request } = service(
      { "a.example": prosody },
      { countStart: (ctx) => limits.consumeAddress(clientAddress(ctx.req, 0)).then(() => void kept.push("start")) },
    );
    await begin("a.example");
    await begin("a.example");
    const over = await request("/session/oauth?host=a.example");
    assert.equal(over.statusCode, 302);
    assert.equal(String(over.headers.location), `${PUBLIC}/admin/#sign-in-error=sign_in_limited`);
    assert.equal(kept.length, 2);
  });

  it("registers once per host, and again after an hour (a new oauth2_registration_key heals without a restart)", async () => {
    const prosody = fakeProsody({ host: "a.example", base: "http://127.0.0.1:5280/a.example" });
    let clock = Date.now();
    const clients = createOAuthClients({
      providers: { "a.example": "http://127.0.0.1:5280/a.example" },
      redirectUri: `${PUBLIC}/session/oauth/callback`,
      clientUri: "https://invites-api.invalid/",
      log,
      fetch: prosody.fetch,
      now: () => clock,
    });
    const first = await Promise.all([clients.provider("a.example"), clients.provider("a.example")]);
    assert.equal(first[0].client.clientId, first[1].client.clientId);
    clock += 59 * 60_000;
    assert.equal((await clients.provider("a.example")).client.clientId, first[0].client.clientId);
    assert.equal(prosody.registrations(), 1);
    clock += 2 * 60_000;
    assert.notEqual((await clients.provider("a.example")).client.clientId, first[0].client.clientId);
    assert.equal(prosody.registrations(), 2);
  });

  it("signs in the account Prosody vouches for, revokes what it was given, and goes to next", async () => {
    const prosody = fakeProsody({ host: "a.example", base: "http://127.0.0.1:5280/a.example" });
    const { begin, finish, started } = service({ "a.example": prosody });
    const { location, cookie } = await begin("a.example", "/admin/?tab=invites");
    const back = await finish(prosody.approve(location, "alice"), cookie);
    assert.equal(back.status, 302);
    assert.equal(back.location, "/admin/?tab=invites");
    assert.deepEqual(started, [{ jid: "alice@a.example", host: "a.example", via: "oauth" }]);
    assert.equal(prosody.revoked.length, 2, "the access and the refresh token");
  });

  it("a callback replayed (same code and state) is refused, and makes no second session", async () => {
    const prosody = fakeProsody({ host: "a.example", base: "http://127.0.0.1:5280/a.example" });
    const { begin, finish, started } = service({ "a.example": prosody });
    const { location, cookie } = await begin("a.example");
    const callback = prosody.approve(location, "alice");
    assert.equal((await finish(callback, cookie)).location, `${PUBLIC}/admin/`);
    const again = await finish(callback, cookie);
    assert.equal(again.status, 302);
    assert.equal(again.location, `${PUBLIC}/admin/#sign-in-error=state_invalid`);
    assert.equal(started.length, 1);
  });

  it("a callback without the nonce cookie, or with another browser's, is refused (login CSRF)", async () => {
    const prosody = fakeProsody({ host: "a.example", base: "http://127.0.0.1:5280/a.example" });
    const { begin, finish, started } = service({ "a.example": prosody });
    const first = await begin("a.example");
    assert.equal(
      (await finish(prosody.approve(first.location, "mallory"), undefined)).location,
      `${PUBLIC}/admin/#sign-in-error=state_mismatch`,
    );
    const mine = await begin("a.example");
    const theirs = await begin("a.example");
    assert.notEqual(mine.cookie, theirs.cookie);
    assert.equal(
      (await finish(prosody.approve(theirs.location, "mallory"), mine.cookie)).location,
      `${PUBLIC}/admin/#sign-in-error=state_mismatch`,
    );
    assert.equal(started.length, 0);
  });

  it("an account of another host than the state's is refused", async () => {
    // PEOPLE_OAUTH sends b.example to a Prosody that signs people of a.example in.
    const prosody = fakeProsody({ host: "b.example", vouchFor: "a.example", base: "http://127.0.0.1:5280/b.example" });
    const { begin, finish, started } = service({ "b.example": prosody });
    const { location, cookie } = await begin("b.example");
    const back = await finish(prosody.approve(location, "alice"), cookie);
    assert.equal(back.location, `${PUBLIC}/admin/#sign-in-error=wrong_host`);
    assert.equal(started.length, 0);
    assert.equal(prosody.revoked.length, 2, "revoked all the same");
  });

  it("a code with another state's verifier is refused (PKCE)", async () => {
    const prosody = fakeProsody({ host: "a.example", base: "http://127.0.0.1:5280/a.example" });
    const { begin, finish, started } = service({ "a.example": prosody });
    const one = await begin("a.example");
    const two = await begin("a.example");
    // two's code, delivered with one's state (the code was made for two's challenge).
    const code = new URL(prosody.approve(two.location, "alice")).searchParams.get("code") ?? "";
    const forged = new URL(prosody.approve(one.location, "alice"));
    forged.searchParams.set("code", code);
    assert.equal(
      (await finish(forged.toString(), one.cookie)).location,
      `${PUBLIC}/admin/#sign-in-error=oauth_refused`,
    );
    assert.equal(started.length, 0);
  });

  it("an account whose role gives it nothing here gets no session (not_allowed)", async () => {
    const prosody = fakeProsody({ host: "a.example", base: "http://127.0.0.1:5280/a.example" });
    const { begin, finish, started } = service(
      { "a.example": prosody },
      { mayAct: (jid) => jid !== "guest@a.example" },
    );
    const guest = await begin("a.example");
    assert.equal(
      (await finish(prosody.approve(guest.location, "guest"), guest.cookie)).location,
      `${PUBLIC}/admin/#sign-in-error=not_allowed`,
    );
    const member = await begin("a.example");
    assert.equal((await finish(prosody.approve(member.location, "alice"), member.cookie)).location, `${PUBLIC}/admin/`);
    assert.deepEqual(
      started.map((who) => who.jid),
      ["alice@a.example"],
    );
  });

  it("the person saying no on Prosody's page ends at sign-in-error=access_denied", async () => {
    const prosody = fakeProsody({ host: "a.example", base: "http://127.0.0.1:5280/a.example" });
    const { begin, finish, started } = service({ "a.example": prosody });
    const { location, cookie } = await begin("a.example");
    assert.equal(
      (await finish(prosody.deny(location), cookie)).location,
      `${PUBLIC}/admin/#sign-in-error=access_denied`,
    );
    assert.equal(started.length, 0);
  });

  it("next elsewhere than this origin ends at /admin/", async () => {
    const prosody = fakeProsody({ host: "a.example", base: "http://127.0.0.1:5280/a.example" });
    const { begin, finish } = service({ "a.example": prosody });
    for (const next of ["//evil.example", "https://evil.example", "/\\evil.example"]) {
      const { location, cookie } = await begin("a.example", next);
      assert.equal((await finish(prosody.approve(location, "alice"), cookie)).location, `${PUBLIC}/admin/`, next);
    }
  });

  it("an unknown host, or Prosody unreachable, ends at a sign-in error; without PUBLIC_URL the routes are 501", async () => {
    const prosody = fakeProsody({ host: "a.example", base: "http://127.0.0.1:5280/a.example" });
    const { request } = service({ "a.example": prosody });
    for (const host of ["elsewhere.example", "constructor", "__proto__"]) {
      const unknown = await request(`/session/oauth?host=${host}`);
      assert.equal(unknown.headers.location, `${PUBLIC}/admin/#sign-in-error=unknown_host`, host);
    }
    prosody.setDown(true);
    const down = await request("/session/oauth?host=a.example");
    assert.equal(down.headers.location, `${PUBLIC}/admin/#sign-in-error=oauth_unavailable`);
    assert.doesNotMatch(down.body, /at |Error/);
    prosody.setDown(false);
    assert.equal((await request("/session/oauth?host=a.example")).statusCode, 302, "tried again after a failure");
    const off = service({ "a.example": prosody }, { off: true });
    const res = await off.request("/session/oauth?host=a.example");
    assert.equal(res.statusCode, 501);
    assert.equal((await off.request("/session/oauth/callback?code=x&state=y")).statusCode, 501);
    const post = await inject(off.app.callback(), { method: "POST", url: "/session/oauth?host=a.example" });
    assert.equal(post.statusCode, 405);
    assert.equal(post.headers.allow, "GET");
  });
});
