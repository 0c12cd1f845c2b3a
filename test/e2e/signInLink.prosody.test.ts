import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { recordSecret, recordTokensIn } from "../support/handedOut.js";
import { openInbox, type Inbox } from "../support/inbox.js";
import { startAll } from "../support/cleanup.js";
import { MANAGE_MODULES, startProsody, type RunningProsody } from "../support/prosody.js";
import { startService, type RunningService } from "../support/service.js";
import { startRedis, type RunningServer } from "../support/servers.js";
import { createKey, serviceEnv, startStackWithSignIn, waitReady, type RunningStack } from "../support/stack.js";

// People signing in with a one-time link (issue 29), end to end: a real XMPP client logs in as the
// account, the service's component sends it the link as a chat message, the test takes the token out
// of the message and redeems it as the page would. Any Prosody (0.12's default; 13 too).
const HOST = "signin.test";
const COMPONENT = { domain: "invites.signin.test", secret: "sign-in-link-component-secret" };
const on13 = process.env.PROSODY_VERSION === "13";
const PASSWORD = `alice-pässword-${Math.random().toString(36).slice(2, 10)}`;
recordSecret("account password", PASSWORD);

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A request with headers fetch would not send as given (Host). */
function send(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        headers: {
          accept: "application/json",
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        timeout: 20_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.end(payload);
  });
}

/** The `name=value` of an answer's Set-Cookie, and its attributes. */
function cookieOf(answer: Answer): { pair: string; value: string; attributes: string[] } {
  const line = [answer.headers["set-cookie"] ?? []].flat()[0] ?? "";
  const [pair = "", ...attributes] = line.split(/;\s*/);
  return { pair, value: pair.slice(pair.indexOf("=") + 1), attributes };
}

const LINK = /(\S+)#sign-in=([A-Za-z0-9_-]+)/;

describe(`sign-in by link on Prosody ${on13 ? "13" : "0.12"}: a real client receives it`, () => {
  let stack: RunningStack | undefined;
  let inbox: Inbox | undefined;
  let publicUrl = "";
  let port = 0;
  const site = () => ({ host: `127.0.0.1:${port}`, origin: publicUrl });

  const askLink = (jid: string, headers: Record<string, string> = site()) =>
    send(`${stack!.service.url}/session/link`, "POST", headers, { jid });

  /** Asks for a link for alice and waits for it to arrive; its token and the whole link. */
  async function linkArrives(headers?: Record<string, string>): Promise<{ token: string; link: string }> {
    const before = inbox!.received.length;
    const asked = await askLink(`alice@${HOST}`, headers);
    assert.equal(asked.status, 202, asked.body);
    assert.deepEqual(JSON.parse(asked.body), { sent: true });
    const body = await inbox!.next(
      COMPONENT.domain,
      (text) => LINK.test(text) && !inbox!.received.slice(0, before).some((m) => m.body === text),
      15_000,
    );
    assert.ok(body, "the sign-in message arrived");
    const [, base = "", token = ""] = LINK.exec(body)!;
    recordSecret("sign-in token", token);
    return { token, link: `${base}#sign-in=${token}` };
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
      { component: COMPONENT },
    );
    stack = started;
    publicUrl = started.publicUrl;
    port = Number(new URL(publicUrl).port);
    // The service serves the hosts of its keys.
    await createKey(stack.keyStore, HOST, "desk");
    stack.prosody.ctl(["register", "alice", HOST, PASSWORD]);
    inbox = await openInbox({ port: stack.prosody.c2sPort, domain: HOST, username: "alice", password: PASSWORD });
  });
  after(async () => {
    await inbox?.close();
    await stack?.stop();
  });

  it("sends alice a link to PUBLIC_URL; redeeming it signs her in; GET /session shows her; a replay is refused", async () => {
    const { token, link } = await linkArrives();
    assert.equal(link, `${publicUrl}/admin/#sign-in=${token}`);
    const redeemed = await send(`${stack!.service.url}/session/link/redeem`, "POST", site(), { token });
    assert.equal(redeemed.status, 200, redeemed.body);
    const cookie = cookieOf(redeemed);
    recordSecret("session cookie", cookie.value);
    // PUBLIC_URL is loopback http: the cookie without Secure, still HttpOnly and SameSite=Strict.
    assert.match(cookie.pair, /^invites_session=[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(cookie.attributes.sort(), ["HttpOnly", "Max-Age=43200", "Path=/", "SameSite=Strict"]);
    const session = JSON.parse(redeemed.body) as Record<string, unknown>;

    const shown = await send(`${stack!.service.url}/session`, "GET", { cookie: cookie.pair });
    assert.equal(shown.status, 200, shown.body);
    assert.deepEqual(JSON.parse(shown.body), session);
    assert.equal(session.jid, `alice@${HOST}`);
    assert.equal(session.host, HOST);
    // An account prosodyctl made: prosody:registered on 0.12 (not an admin) and on 13 alike.
    assert.equal(session.role, "prosody:registered");
    assert.equal(session.via, "link");
    assert.deepEqual(session.powers, ["account"]);
    assert.equal(session.own_only, true);
    assert.deepEqual(session.quota, { limit: 5, used: 0, left: 5, window_seconds: 604_800, next_at: null });

    const replay = await send(`${stack!.service.url}/session/link/redeem`, "POST", site(), { token });
    assert.equal(replay.status, 401);
    assert.equal(JSON.parse(replay.body).error, "link_invalid");
    assert.equal(replay.headers["set-cookie"], undefined);

    // The API's routes take the session as the caller: a change needs the CSRF token.
    const invite = (headers: Record<string, string>) =>
      send(`${stack!.service.url}/invites/account`, "POST", { ...site(), cookie: cookie.pair, ...headers }, {});
    const refused = await invite({});
    assert.equal(refused.status, 403, refused.body);
    assert.equal(JSON.parse(refused.body).error, "csrf_refused");
    // The drop-in /invites_api is for keys alone: a GET there makes an invite, which a cookie must never do.
    for (const method of ["GET", "POST"]) {
      const dropIn = await send(`${stack!.service.url}/invites_api`, method, { ...site(), cookie: cookie.pair });
      assert.equal(dropIn.status, 403, `${method} ${dropIn.body}`);
    }
    const made = await invite({ "x-csrf-token": String(session.csrf) });
    recordTokensIn(made.body);
    assert.equal(made.status, 201, made.body);
    assert.equal(JSON.parse(made.body).created_by, `alice@${HOST}`);
    const after = JSON.parse((await send(`${stack!.service.url}/session`, "GET", { cookie: cookie.pair })).body);
    assert.equal(after.quota.used, 1, "the invite counts against her quota");

    // Signing out everywhere ends it.
    const out = await send(`${stack!.service.url}/session?everywhere=true`, "DELETE", {
      ...site(),
      cookie: cookie.pair,
      "x-csrf-token": String(session.csrf),
    });
    assert.equal(out.status, 204);
    assert.equal((await send(`${stack!.service.url}/session`, "GET", { cookie: cookie.pair })).status, 401);
    // Its refusal is JSON whatever the client accepts: the page's script reads it.
    const ended = await send(`${stack!.service.url}/session`, "GET", { cookie: cookie.pair, accept: "*/*" });
    assert.equal(ended.status, 401);
    assert.equal(JSON.parse(ended.body).error, "not_signed_in");
  });

  it("an address XML cannot carry (a lone surrogate, U+FFFE) gets the same answer, and the component stays connected", async () => {
    for (const jid of [`\ud800lice@${HOST}`, `ali\ufffece@${HOST}`]) {
      const answer = await askLink(jid);
      assert.equal(answer.status, 202, answer.body);
    }
    // Prosody would close the stream of a component that sent one: the next link still arrives.
    const { token } = await linkArrives();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  });

  it("makes the link from PUBLIC_URL, not from a forged Host header", async () => {
    const { link } = await linkArrives({ host: "evil.example", origin: "http://evil.example" });
    assert.ok(link.startsWith(`${publicUrl}/admin/#sign-in=`), link);
    assert.doesNotMatch(link, /evil/);
  });

  it("answers a missing account as it answers alice, and sends nothing", async () => {
    const before = inbox!.received.length;
    const missing = await askLink(`nobody@${HOST}`);
    const elsewhere = await askLink("alice@not-served.test");
    for (const answer of [missing, elsewhere]) {
      assert.equal(answer.status, 202);
      assert.deepEqual(JSON.parse(answer.body), { sent: true });
    }
    // The log says why nothing went out; alice's client got nothing new.
    await stack!.service.waitForLog(
      (line) =>
        line.msg === "sign-in link not sent: no such account here, or it may do nothing" &&
        line.person === `nobody@${HOST}`,
      10_000,
    );
    assert.equal(inbox!.received.length, before);
  });
});

describe(`sign-in by link, two instances sharing a Redis store, on Prosody ${on13 ? "13" : "0.12"}`, () => {
  const SHARED_HOST = "shared.signin.test";
  const COMPONENTS = [
    { domain: "invites1.shared.signin.test", secret: "sign-in-shared-secret-1" },
    { domain: "invites2.shared.signin.test", secret: "sign-in-shared-secret-2" },
  ];
  // Both behind one public address, as behind a load balancer.
  const PUBLIC = "http://localhost:8443";
  const SITE = { host: "localhost:8443", origin: PUBLIC };
  let store: RunningServer | undefined;
  let prosody: RunningProsody | undefined;
  let services: RunningService[] = [];
  let inbox: Inbox | undefined;

  before(async () => {
    store = await startRedis();
    prosody = await startProsody({
      hosts: [SHARED_HOST],
      components: COMPONENTS,
      admins: [],
      hostOptions: { [SHARED_HOST]: { modules: MANAGE_MODULES } },
      extra: `invites_manage_jids = { "${COMPONENTS[0]!.domain}", "${COMPONENTS[1]!.domain}" }`,
    });
    const running = prosody;
    const env = (i: number) => serviceEnv(running, COMPONENTS[i]!, store!.url, { PUBLIC_URL: PUBLIC });
    services = await startAll([() => startService(env(0)), () => startService(env(1))], (s) => s.stop());
    await Promise.all(services.map((service) => waitReady(service.url, 15_000)));
    await createKey(store.url, SHARED_HOST, "desk");
    prosody.ctl(["register", "alice", SHARED_HOST, PASSWORD]);
    inbox = await openInbox({ port: prosody.c2sPort, domain: SHARED_HOST, username: "alice", password: PASSWORD });
  });
  after(async () => {
    await inbox?.close();
    await Promise.all(services.map((service) => service.stop()));
    await prosody?.dispose();
    await store?.stop();
  });

  /** A link asked of instance `i`, as its component sends it; its token. */
  async function tokenFrom(i: number): Promise<string> {
    const before = inbox!.received.length;
    const asked = await send(`${services[i]!.url}/session/link`, "POST", SITE, { jid: `alice@${SHARED_HOST}` });
    assert.equal(asked.status, 202, asked.body);
    const body = await inbox!.next(
      COMPONENTS[i]!.domain,
      (text) => LINK.test(text) && !inbox!.received.slice(0, before).some((m) => m.body === text),
      15_000,
    );
    assert.ok(body, `the link from instance ${i + 1} arrived`);
    const token = LINK.exec(body)![2]!;
    recordSecret("sign-in token", token);
    assert.ok(body.includes(`${PUBLIC}/admin/#sign-in=${token}`));
    return token;
  }

  async function redeem(i: number, token: string): Promise<{ cookie: string; csrf: string }> {
    const res = await send(`${services[i]!.url}/session/link/redeem`, "POST", SITE, { token });
    assert.equal(res.status, 200, res.body);
    const { pair, value } = cookieOf(res);
    recordSecret("session cookie", value);
    return { cookie: pair, csrf: String((JSON.parse(res.body) as { csrf: string }).csrf) };
  }

  const status = async (i: number, cookie: string) =>
    (await send(`${services[i]!.url}/session`, "GET", { cookie })).status;

  it("a link from one instance is redeemed on the other, once; sign-out everywhere on one ends the sessions on both", async () => {
    const token = await tokenFrom(0);
    const first = await redeem(1, token);
    const replay = await send(`${services[0]!.url}/session/link/redeem`, "POST", SITE, { token });
    assert.equal(replay.status, 401, "the token was taken on the other instance");
    assert.equal(await status(0, first.cookie), 200, "a session made on one is known on the other");
    const second = await redeem(1, await tokenFrom(1));
    assert.equal(await status(0, second.cookie), 200);

    const out = await send(`${services[0]!.url}/session?everywhere=true`, "DELETE", {
      ...SITE,
      cookie: first.cookie,
      "x-csrf-token": first.csrf,
    });
    assert.equal(out.status, 204);
    for (const i of [0, 1]) {
      assert.equal(await status(i, first.cookie), 401, `instance ${i + 1}, the session signed out`);
      assert.equal(await status(i, second.cookie), 401, `instance ${i + 1}, her other session`);
    }
  });
});
