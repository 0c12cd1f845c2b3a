import assert from "node:assert/strict";
import type { PersonLookup } from "../../src/people/types.js";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import Keyv from "keyv";
import { pino } from "pino";
import type { CallerFor } from "../../src/people/sessionCaller.js";
import {
  fakeLookup,
  fakeOneTime,
  fakeQuotas,
  HOST,
  peopleApp,
  PUBLIC_URL,
  setCookie,
  simpleCaller,
  tokenIn,
  type PeopleApp,
} from "../support/fakePeople.js";

const ALICE = `alice@${HOST}`;
const SITE = { host: "invites.example.test", origin: PUBLIC_URL, "sec-fetch-site": "same-origin" };
const json = (url: string, method: string, body: unknown, headers: Record<string, string> = {}) => ({
  method: method as "POST",
  url,
  headers: { "content-type": "application/json", accept: "application/json", ...SITE, ...headers },
  payload: JSON.stringify(body),
  remoteAddress: "192.0.2.7",
});

/** Asks for a link for `jid`, waits for the message and returns its token. */
async function linkFor(app: PeopleApp, jid = ALICE): Promise<string> {
  const before = app.sent.length;
  const res = await app.request(json("/session/link", "POST", { jid }));
  assert.equal(res.statusCode, 202, res.payload);
  await app.settled();
  const message = app.sent.slice(before).find((m) => m.to === jid);
  assert.ok(message, `a message to ${jid}`);
  const token = tokenIn(message.body);
  assert.ok(token);
  return token;
}

/** Signs in through a link; returns the cookie (name=value) and the session's answer. */
async function signIn(app: PeopleApp, jid = ALICE, headers: Record<string, string> = {}) {
  const res = await app.request(json("/session/link/redeem", "POST", { token: await linkFor(app, jid) }, headers));
  assert.equal(res.statusCode, 200, res.payload);
  const cookie = setCookie(res);
  assert.ok(cookie);
  return { cookie: `${cookie.name}=${cookie.value}`, value: cookie.value, session: res.json(), res };
}

const get = (app: PeopleApp, url: string, cookie: string, headers: Record<string, string> = {}) =>
  app.request({ url, headers: { cookie, accept: "application/json", ...headers } });

/** A clock the test moves. */
function clock(start = Date.UTC(2031, 2, 14, 9)) {
  let at = start;
  return { now: () => at, advance: (ms: number) => void (at += ms) };
}

describe("sign-in link and sessions (issue 29)", () => {
  it("sends a link to PUBLIC_URL's /admin/ with the token in its fragment; redeeming it signs in with a __Host- cookie", async () => {
    const app = peopleApp();
    const token = await linkFor(app);
    assert.match(
      app.sent[0]!.body,
      /^Your sign-in link for the invites page of example\.test: https:\/\/invites\.example\.test\/admin\/#sign-in=[A-Za-z0-9_-]{43}\n/,
    );
    assert.equal(token.length, 43);
    const { cookie, value, session, res } = await signIn(app);
    const set = setCookie(res)!;
    assert.equal(set.name, "__Host-invites_session");
    assert.match(value, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(set.attributes.sort(), ["HttpOnly", "Max-Age=43200", "Path=/", "SameSite=Strict", "Secure"]);
    assert.equal(res.headers["cache-control"], "no-store");
    assert.equal(session.jid, ALICE);
    assert.equal(session.via, "link");
    assert.match(session.csrf, /^[A-Za-z0-9_-]{43}$/);
    const again = await get(app, "/session", cookie);
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json(), session);
    // The store holds the SHA-256 of the cookie's value, never the value.
    const raw = JSON.stringify([...(app.people.store as Map<string, unknown>).entries()]);
    assert.ok(!raw.includes(value));
    assert.ok(!raw.includes(token));
  });

  it("answers the session's JSON: role, powers, quota as it stands, notify, expiry", async () => {
    const c = clock();
    const used = [c.now() - 86_400_000, c.now() - 3_600_000];
    const app = peopleApp({ now: c.now, quotas: fakeQuotas({ [ALICE]: used }) });
    const { session } = await signIn(app);
    assert.deepEqual(
      { ...session, csrf: "-" },
      {
        jid: ALICE,
        host: HOST,
        role: "prosody:registered",
        via: "link",
        powers: ["account"],
        circles: null,
        own_only: true,
        quota: {
          limit: 5,
          used: 2,
          left: 3,
          window_seconds: 604_800,
          next_at: new Date(used[0]! + 604_800_000).toISOString(),
        },
        notify: true,
        csrf: "-",
        expires_at: new Date(c.now() + 12 * 3_600_000).toISOString(),
      },
    );
  });

  it("names the person as Prosody preps their JID: another case or Unicode form of the account is the same person, with the same account limit", async () => {
    // Prosody's nodeprep, near enough: Unicode compatibility forms and case folded.
    const lookup: PersonLookup = {
      async person(_host, jid) {
        const prepped = jid.normalize("NFKC").toLowerCase();
        if (prepped !== ALICE) return { jid: prepped, exists: false, enabled: false, role: "" };
        return { jid: ALICE, exists: true, enabled: true, role: "prosody:registered" };
      },
    };
    const app = peopleApp({ lookup, accountRate: { points: 3, durationSeconds: 900 } });
    const forms = [`\uff21lice@${HOST}`, `ALİCE@${HOST}`.replace("İ", "I"), `alic\uff25@${HOST}`, `\uff41lice@${HOST}`];
    const res = await app.request(json("/session/link", "POST", { jid: forms[0] }));
    assert.equal(res.statusCode, 202);
    await app.settled();
    // The message goes to the account as Prosody names it, and the session is that account's.
    assert.deepEqual(
      app.sent.map((m) => m.to),
      [ALICE],
    );
    const token = tokenIn(app.sent[0]!.body)!;
    const redeemed = await app.request(json("/session/link/redeem", "POST", { token }));
    assert.equal(redeemed.statusCode, 200, redeemed.payload);
    assert.equal(redeemed.json().jid, ALICE);
    // Typed in other forms, the account still gets no more than SIGN_IN_ACCOUNT_RATE's links.
    for (const jid of forms.slice(1)) {
      assert.equal((await app.request(json("/session/link", "POST", { jid }))).statusCode, 202, jid);
    }
    await app.settled();
    assert.equal(app.sent.length, 3);
  });

  it("refuses a replayed link: 401 link_invalid, no second session", async () => {
    const app = peopleApp();
    const token = await linkFor(app);
    const first = await app.request(json("/session/link/redeem", "POST", { token }));
    assert.equal(first.statusCode, 200);
    const replay = await app.request(json("/session/link/redeem", "POST", { token }));
    assert.equal(replay.statusCode, 401);
    assert.equal(replay.json().error, "link_invalid");
    assert.equal(replay.headers["set-cookie"], undefined);
    for (const bad of ["x".repeat(43), "short", "a".repeat(200)]) {
      const res = await app.request(json("/session/link/redeem", "POST", { token: bad }));
      assert.equal(res.statusCode, 401, bad);
    }
  });

  it("refuses a link past SIGN_IN_LINK_TTL", async () => {
    const c = clock();
    const oneTime = fakeOneTime(c.now).store;
    const app = peopleApp({ now: c.now, oneTime });
    const token = await linkFor(app);
    c.advance(5 * 60_000 + 1);
    const res = await app.request(json("/session/link/redeem", "POST", { token }));
    assert.equal(res.statusCode, 401);
  });

  it("answers exactly the same for an account that does not exist, is disabled, may do nothing, or is on a host not served; sends nothing to them", async () => {
    const { lookup } = fakeLookup({
      [ALICE]: {},
      [`dora@${HOST}`]: { enabled: false },
      [`gus@${HOST}`]: { role: "prosody:guest" },
    });
    const app = peopleApp({ lookup });
    const answers = [];
    for (const jid of [ALICE, `nobody@${HOST}`, `dora@${HOST}`, `gus@${HOST}`, "alice@elsewhere.test"]) {
      const res = await app.request(json("/session/link", "POST", { jid }));
      const { date: _date, ...headers } = res.headers;
      answers.push({ status: res.statusCode, payload: res.payload, headers });
    }
    await app.settled();
    for (const other of answers.slice(1)) assert.deepEqual(other, answers[0]);
    assert.deepEqual(answers[0]!.status, 202);
    assert.deepEqual(JSON.parse(answers[0]!.payload), { sent: true });
    assert.deepEqual(
      app.sent.map((m) => m.to),
      [ALICE],
    );
  });

  it("makes the link from PUBLIC_URL whatever Host and X-Forwarded-Host the request says", async () => {
    const app = peopleApp({ trustedProxies: 1 });
    const res = await app.request(
      json(
        "/session/link",
        "POST",
        { jid: ALICE },
        { host: "evil.example", "x-forwarded-host": "evil.example", origin: "https://evil.example" },
      ),
    );
    // Same-origin as the request says it: sameOrigin passes; the link still points at PUBLIC_URL.
    assert.equal(res.statusCode, 202);
    await app.settled();
    assert.match(app.sent[0]!.body, /: https:\/\/invites\.example\.test\/admin\/#sign-in=/);
    assert.doesNotMatch(app.sent[0]!.body, /evil/);
  });

  it("mints a fresh session at sign-in: a cookie sent before is never taken over (fixation)", async () => {
    const app = peopleApp();
    // An attacker's chosen value, of the right shape, planted in the victim's browser.
    const planted = "A".repeat(43);
    const { value, cookie } = await signIn(app, ALICE, { cookie: `__Host-invites_session=${planted}` });
    assert.notEqual(value, planted);
    assert.equal((await get(app, "/session", `__Host-invites_session=${planted}`)).statusCode, 401);
    assert.equal((await get(app, "/session", cookie)).statusCode, 200);
    // Signing in again with a session's cookie: a new value; the old session ends.
    const second = await signIn(app, ALICE, { cookie });
    assert.notEqual(second.value, value);
    assert.equal((await get(app, "/session", cookie)).statusCode, 401);
    assert.equal((await get(app, "/session", second.cookie)).statusCode, 200);
  });

  it("ignores a cookie that is not the shape of a session id; 401 not_signed_in without one", async () => {
    const app = peopleApp();
    for (const cookie of [
      "",
      "__Host-invites_session=short",
      `__Host-invites_session=${"A".repeat(42)}!`,
      `invites_session=${"A".repeat(43)}`,
    ]) {
      const res = await get(app, "/session", cookie);
      assert.equal(res.statusCode, 401, cookie);
      assert.equal(res.json().error, "not_signed_in");
      // A malformed one does not even reach the store: the gate lets the request on as it came.
      const echo = await get(app, "/echo", cookie);
      assert.deepEqual(echo.json(), { key: null, person: null }, cookie);
    }
  });

  it("names the cookie invites_session, without Secure, when PUBLIC_URL is a loopback http address", async () => {
    const app = peopleApp({ publicUrl: "http://127.0.0.1:8080" });
    const { res } = await signIn(app, ALICE, { host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080" });
    const set = setCookie(res)!;
    assert.equal(set.name, "invites_session");
    assert.ok(!set.attributes.includes("Secure"));
    assert.ok(set.attributes.includes("HttpOnly") && set.attributes.includes("SameSite=Strict"));
  });

  describe("CSRF", () => {
    it("refuses a change without the session's X-CSRF-Token, with a wrong one, or from another site: 403 csrf_refused", async () => {
      const app = peopleApp();
      const { cookie, session } = await signIn(app);
      const patch = (headers: Record<string, string>) =>
        app.request({
          ...json("/session", "PATCH", { notify: false }, headers),
          headers: { "content-type": "application/json", accept: "application/json", cookie, ...headers },
        });
      const refused: Array<Record<string, string>> = [
        {},
        { "x-csrf-token": "" },
        { "x-csrf-token": `${session.csrf.slice(0, -1)}x` },
        { "x-csrf-token": session.csrf.slice(0, -1) },
        { "x-csrf-token": session.csrf, origin: "https://evil.example" },
        { "x-csrf-token": session.csrf, "sec-fetch-site": "cross-site" },
        { "x-csrf-token": session.csrf, "sec-fetch-site": "same-site" },
        { "x-csrf-token": session.csrf, origin: "null" },
      ];
      for (const headers of refused) {
        const res = await patch(headers);
        assert.equal(res.statusCode, 403, JSON.stringify(headers));
        assert.equal(res.json().error, "csrf_refused");
      }
      assert.equal((await get(app, "/session", cookie)).json().notify, true, "nothing changed");
      const ok = await patch({ "x-csrf-token": session.csrf, ...SITE });
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.json().notify, false);
      assert.equal(await app.people.get(`notify:${ALICE}`), false);
    });

    it("guards every method but GET, HEAD and OPTIONS; a key's request is not a session's", async () => {
      const app = peopleApp();
      const { cookie, session } = await signIn(app);
      for (const method of ["POST", "PUT", "PATCH", "DELETE"] as const) {
        const res = await app.request({ method, url: "/echo", headers: { cookie, accept: "application/json" } });
        assert.equal(res.statusCode, 403, method);
        const ok = await app.request({ method, url: "/echo", headers: { cookie, "x-csrf-token": session.csrf } });
        assert.deepEqual(ok.json(), { key: ALICE, person: ALICE }, method);
      }
      for (const method of ["GET", "HEAD"] as const) {
        assert.equal((await app.request({ method, url: "/echo", headers: { cookie } })).statusCode, 200, method);
      }
      // With a key (header or ?key) the cookie is not looked at: the key check decides, as before.
      for (const headers of [{ cookie, authorization: "Bearer k/s" }]) {
        const res = await app.request({ method: "POST", url: "/echo", headers });
        assert.deepEqual(res.json(), { key: null, person: null });
      }
      const res = await app.request({ method: "POST", url: "/echo?key=k/s", headers: { cookie } });
      assert.deepEqual(res.json(), { key: null, person: null });
    });

    it("guards the API's routes: a session's person, else a key as before", async () => {
      const app = peopleApp();
      const { cookie, session } = await signIn(app);
      const { info, key } = await app.keys.create(HOST);
      const api = (method: "GET" | "POST", headers: Record<string, string>) =>
        app.request({ method, url: "/api", headers: { accept: "application/json", ...headers } });
      assert.deepEqual((await api("GET", { cookie })).json(), { key: ALICE, person: ALICE });
      assert.deepEqual((await api("POST", { cookie, "x-csrf-token": session.csrf })).json(), {
        key: ALICE,
        person: ALICE,
      });
      const refused = await api("POST", { cookie });
      assert.deepEqual([refused.statusCode, refused.json().error], [403, "csrf_refused"]);
      // A key: the cookie is not looked at, no CSRF token needed (nothing ambient).
      const keyed = await api("POST", { cookie, authorization: `Bearer ${key}` });
      assert.deepEqual(keyed.json(), { key: info.id, person: null });
      const none = await api("GET", {});
      assert.deepEqual([none.statusCode, none.json().error], [403, "invalid_key"]);
      const ended = await api("GET", { cookie: `__Host-invites_session=${"C".repeat(43)}` });
      assert.deepEqual([ended.statusCode, ended.json().error], [401, "not_signed_in"]);
    });

    it("refuses sign-in requests from another site (login CSRF)", async () => {
      const app = peopleApp();
      const token = await linkFor(app);
      for (const headers of [{ origin: "https://evil.example" }, { "sec-fetch-site": "cross-site" }] as Array<
        Record<string, string>
      >) {
        const link = await app.request(json("/session/link", "POST", { jid: ALICE }, headers));
        assert.equal(link.statusCode, 403);
        const redeem = await app.request(json("/session/link/redeem", "POST", { token }, headers));
        assert.equal(redeem.statusCode, 403);
        assert.equal(redeem.json().error, "csrf_refused");
      }
      // The token was not spent by the refused attempts.
      assert.equal((await app.request(json("/session/link/redeem", "POST", { token }))).statusCode, 200);
    });

    it("signs out only with the token: DELETE /session without it is refused and the session stays", async () => {
      const app = peopleApp();
      const { cookie, session } = await signIn(app);
      const refused = await app.request({
        method: "DELETE",
        url: "/session",
        headers: { cookie, accept: "application/json" },
      });
      assert.equal(refused.statusCode, 403);
      assert.equal((await get(app, "/session", cookie)).statusCode, 200);
      const out = await app.request({
        method: "DELETE",
        url: "/session",
        headers: { cookie, "x-csrf-token": session.csrf },
      });
      assert.equal(out.statusCode, 204);
      assert.deepEqual(setCookie(out)?.attributes.includes("Max-Age=0"), true);
      assert.equal(setCookie(out)?.value, "");
      assert.equal((await get(app, "/session", cookie)).statusCode, 401);
      // Signing out again, or with no cookie: done already, 204.
      for (const headers of [{ cookie }, {}] as Array<Record<string, string>>) {
        const again = await app.request({ method: "DELETE", url: "/session", headers });
        assert.equal(again.statusCode, 204, JSON.stringify(headers));
      }
    });
  });

  describe("lifetime", () => {
    it("ends a session idle for SESSION_IDLE", async () => {
      const c = clock();
      const app = peopleApp({ now: c.now, idleMs: 30 * 60_000 });
      const { cookie } = await signIn(app);
      c.advance(29 * 60_000);
      assert.equal((await get(app, "/session", cookie)).statusCode, 200);
      // Used 29 min in: idle counts from there.
      c.advance(29 * 60_000);
      assert.equal((await get(app, "/session", cookie)).statusCode, 200);
      c.advance(30 * 60_000);
      const res = await get(app, "/session", cookie);
      assert.equal(res.statusCode, 401);
      assert.equal(setCookie(res)?.value, "", "the browser is told to drop the cookie");
    });

    it("ends a session at SESSION_LIFETIME however much it is used", async () => {
      const c = clock();
      const app = peopleApp({ now: c.now, lifetimeMs: 2 * 3_600_000, idleMs: 30 * 60_000 });
      const { cookie } = await signIn(app);
      for (let i = 0; i < 7; i += 1) {
        c.advance(17 * 60_000);
        assert.equal((await get(app, "/session", cookie)).statusCode, 200, `at ${(i + 1) * 17} min`);
      }
      c.advance(2 * 3_600_000 - 7 * 17 * 60_000);
      assert.equal((await get(app, "/session", cookie)).statusCode, 401);
    });

    it("writes a session in use at most once a minute", async () => {
      const c = clock();
      const people = new Keyv();
      const writes: string[] = [];
      const set = people.set.bind(people);
      people.set = (async (key: string, value: unknown, ttl?: number) => {
        writes.push(key);
        return set(key, value, ttl);
      }) as typeof people.set;
      const app = peopleApp({ now: c.now, people });
      const { cookie } = await signIn(app);
      writes.length = 0;
      for (let i = 0; i < 30; i += 1) {
        c.advance(5_000);
        assert.equal((await get(app, "/session", cookie)).statusCode, 200);
      }
      // 150 s of requests every 5 s: written at 60 s and 120 s.
      assert.equal(writes.filter((key) => key.startsWith("session:")).length, 2);
    });
  });

  it("asks Prosody about a session's person at most once a minute; an account gone or disabled ends the session", async () => {
    const c = clock();
    const accounts = fakeLookup({ [ALICE]: {}, [`bob@${HOST}`]: {} });
    // A policy that looks at the role only: the gate itself must end a gone account's session.
    const toCaller: CallerFor = (facts, session) => simpleCaller({ ...facts, exists: true, enabled: true }, session);
    const app = peopleApp({ now: c.now, lookup: accounts.lookup, toCaller });
    const alice = await signIn(app);
    const bob = await signIn(app, `bob@${HOST}`);
    accounts.calls.length = 0;
    for (let i = 0; i < 10; i += 1) {
      c.advance(5_000);
      assert.equal((await get(app, "/session", alice.cookie)).statusCode, 200);
    }
    assert.deepEqual(accounts.calls, [ALICE], "once in 50 s (the redeem's own answer is a minute old at most)");
    delete accounts.accounts[ALICE];
    accounts.accounts[`bob@${HOST}`] = { enabled: false };
    c.advance(60_000);
    for (const who of [alice, bob]) {
      const res = await get(app, "/session", who.cookie);
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().error, "not_signed_in");
    }
    // Ended for good: the account coming back does not bring the session back.
    accounts.accounts[ALICE] = {};
    assert.equal((await get(app, "/session", alice.cookie)).statusCode, 401);
  });

  it("re-reads the role: a role that gives nothing any more ends the session; a new role's powers apply", async () => {
    const c = clock();
    const accounts = fakeLookup({ [ALICE]: {}, [`bob@${HOST}`]: {} });
    const app = peopleApp({ now: c.now, lookup: accounts.lookup });
    const alice = await signIn(app);
    const bob = await signIn(app, `bob@${HOST}`);
    accounts.accounts[ALICE] = { role: "prosody:admin" };
    accounts.accounts[`bob@${HOST}`] = { role: "prosody:guest" };
    c.advance(60_000);
    const promoted = await get(app, "/session", alice.cookie);
    assert.deepEqual(promoted.json().powers, ["account", "list", "revoke"]);
    assert.equal((await get(app, "/session", bob.cookie)).statusCode, 401);
    // Ended, not only refused while the role gives nothing.
    accounts.accounts[`bob@${HOST}`] = {};
    c.advance(60_000);
    assert.equal((await get(app, "/session", bob.cookie)).statusCode, 401);
  });

  it("signs out everywhere: every session of the person ends, on every instance sharing the store", async () => {
    const c = clock();
    const people = new Keyv();
    const oneTime = fakeOneTime(c.now).store;
    const accounts = fakeLookup({ [ALICE]: {}, [`bob@${HOST}`]: {} });
    const one = peopleApp({ now: c.now, people, oneTime, lookup: accounts.lookup });
    const two = peopleApp({ now: c.now, people, oneTime, lookup: accounts.lookup });
    const onOne = await signIn(one);
    const onTwo = await signIn(two);
    const bob = await signIn(two, `bob@${HOST}`);
    // Each instance knows the other's sessions (and has asked Prosody about them already).
    assert.equal((await get(one, "/session", onTwo.cookie)).statusCode, 200);
    assert.equal((await get(two, "/session", onOne.cookie)).statusCode, 200);
    c.advance(1);
    const out = await one.request({
      method: "DELETE",
      url: "/session?everywhere=true",
      headers: { cookie: onOne.cookie, "x-csrf-token": onOne.session.csrf },
    });
    assert.equal(out.statusCode, 204);
    for (const app of [one, two]) {
      for (const cookie of [onOne.cookie, onTwo.cookie])
        assert.equal((await get(app, "/session", cookie)).statusCode, 401);
      assert.equal((await get(app, "/session", bob.cookie)).statusCode, 200, "another person's session stays");
    }
    c.advance(1);
    const again = await signIn(two);
    assert.equal((await get(one, "/session", again.cookie)).statusCode, 200, "a sign-in after it works");
  });

  describe("rate limits", () => {
    it("limits links per account (SIGN_IN_ACCOUNT_RATE), existing or not, with Retry-After", async () => {
      const app = peopleApp({ accountRate: { points: 3, durationSeconds: 900 } });
      for (const jid of [ALICE, `nobody@${HOST}`]) {
        for (let i = 0; i < 3; i += 1) {
          assert.equal((await app.request(json("/session/link", "POST", { jid }))).statusCode, 202);
        }
        const over = await app.request(json("/session/link", "POST", { jid: jid.toUpperCase() }));
        assert.equal(over.statusCode, 429, jid);
        assert.equal(over.json().error, "sign_in_limited");
        assert.ok(Number(over.headers["retry-after"]) > 0);
      }
      await app.settled();
      assert.equal(app.sent.length, 3);
    });

    it("limits links per client address (SIGN_IN_ADDRESS_RATE), across accounts", async () => {
      const app = peopleApp({ addressRate: { points: 10, durationSeconds: 900 } });
      for (let i = 0; i < 10; i += 1) {
        assert.equal((await app.request(json("/session/link", "POST", { jid: `user${i}@${HOST}` }))).statusCode, 202);
      }
      const over = await app.request(json("/session/link", "POST", { jid: ALICE }));
      assert.equal(over.statusCode, 429);
      const elsewhere = await app.request({
        ...json("/session/link", "POST", { jid: ALICE }),
        remoteAddress: "198.51.100.1",
      });
      assert.equal(elsewhere.statusCode, 202);
    });

    it("counts failed redeems against the address like failed keys", async () => {
      const failures: string[] = [];
      const app = peopleApp({
        limits: {
          async assertNotBlocked() {
            if (failures.length >= 2)
              throw new (await import("../../src/errors.js")).AppError("too_many_failures", "blocked");
          },
          async recordFailure(address) {
            failures.push(address);
          },
        },
      });
      for (let i = 0; i < 2; i += 1) {
        assert.equal(
          (await app.request(json("/session/link/redeem", "POST", { token: "B".repeat(43) }))).statusCode,
          401,
        );
      }
      assert.deepEqual(failures, ["192.0.2.7", "192.0.2.7"]);
      assert.equal(
        (await app.request(json("/session/link/redeem", "POST", { token: "B".repeat(43) }))).statusCode,
        429,
      );
    });
  });

  it("refuses a body that is not a bare JID, naming the field", async () => {
    const app = peopleApp();
    for (const jid of ["alice", "alice@example.test/phone", "@example.test", 3]) {
      const res = await app.request(json("/session/link", "POST", { jid }));
      assert.equal(res.statusCode, 400, String(jid));
      assert.match(res.json().message, /^jid: expected a bare JID/);
    }
    const extra = await app.request(json("/session/link", "POST", { jid: ALICE, host: "x" }));
    assert.equal(extra.statusCode, 400);
    // Over the sign-in routes' own limit: 413, saying that limit (not the 16 KiB of other routes).
    const large = await app.request(json("/session/link", "POST", { jid: `${"a".repeat(5_000)}@${HOST}` }));
    assert.equal(large.statusCode, 413);
    assert.equal(large.json().message, "the body is too large: this route takes at most 4 KiB");
  });

  it("answers 501 sign_in_unavailable without PUBLIC_URL, and says so in /session/methods", async () => {
    const app = peopleApp({ publicUrl: undefined });
    for (const [method, url] of [
      ["POST", "/session/link"],
      ["POST", "/session/link/redeem"],
      ["GET", "/session"],
      ["DELETE", "/session"],
    ] as const) {
      const res = await app.request({ method, url, headers: { accept: "application/json" } });
      assert.equal(res.statusCode, 501, url);
      assert.equal(res.json().error, "sign_in_unavailable");
    }
    assert.deepEqual((await app.request("/session/methods")).json(), { link: false, oauth: [] });
    const on = peopleApp({ oauthHosts: ["example.test"] });
    assert.deepEqual((await on.request("/session/methods")).json(), { link: true, oauth: ["example.test"] });
  });

  it("logs who asked for a link, never the token", async () => {
    const lines: string[] = [];
    const log = pino(
      { level: "debug" },
      new Writable({ write: (chunk, _enc, done) => done(void lines.push(String(chunk))) }),
    );
    const app = peopleApp({ log });
    const token = await linkFor(app);
    assert.ok(lines.some((line) => line.includes("sign-in link sent") && line.includes(ALICE)));
    assert.ok(!lines.some((line) => line.includes(token)));
  });
});
