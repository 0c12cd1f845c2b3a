import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MANAGE_MODULES, mostWritesHeldAtOnce, type RunningProsody } from "../support/prosody.js";
import type { RunningService } from "../support/service.js";
import { createKey, type RunningStack } from "../support/stack.js";
import { inviteIsValid } from "../support/invites.js";
import { login, registerWithInvite, RegistrationError } from "../support/xmppClient.js";
import { accountExists, registerOnWeb, startWebRegistrationStack } from "../support/webRegister.js";
import type { InviteJson } from "../../src/http/invitesResource.js";

// Accounts registered on Prosody's web registration page (prosody-modules' mod_invites_register_web,
// reached from mod_invites_page's landing page) through invites made by the service are recorded
// by mod_invites_manage exactly as in-band registrations are (redemptions.prosody.test.ts): the
// invite's redemptions, the account's invite and key, and a reusable invite's use cap.
// The Prosody under test is 0.12 or 13, as for every *.prosody.test.ts (PROSODY_VERSION, set by
// `npm run test:e2e` and `npm run test:e2e:13`); on both, mod_password_policy, which the page
// needs, comes from bookworm-backports' prosody-modules (see test/support/webRegister.ts).
const HOST = "web.test";
const COMPONENT = { domain: "invites.web.test", secret: "web-secret" };
const VERSION = process.env.PROSODY_VERSION === "13" ? "13" : "0.12";

// mod_password_policy refuses passwords under 8 characters and those holding the username.
const PASSWORD = "correct-horse-battery-42";

interface AccountInvite {
  jid: string;
  invite: string;
  key: string;
  at: number;
  source: string;
}

describe(`registration on Prosody's web page (mod_invites_register_web), Prosody ${VERSION}`, () => {
  let prosody: RunningProsody;
  let service: RunningService;
  let stack: RunningStack | undefined;
  let manageKey: string;
  let createKeyLine: string;

  before(async () => {
    stack = await startWebRegistrationStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: [...MANAGE_MODULES, "invites_register_web"] } },
        extra: [`invites_manage_jids = { "${COMPONENT.domain}" }`, `invites_manage_groups = { team = "Team" }`].join(
          "\n",
        ),
      },
      { component: COMPONENT },
    );
    ({ prosody, service } = stack);
    manageKey = await createKey(stack.keyStore, HOST, "manage", "--scope", "manage");
    createKeyLine = await createKey(stack.keyStore, HOST, "sign-up page");
  });
  after(() => stack?.stop());

  const call = async <T = InviteJson>(path: string, json?: unknown, as = manageKey) => {
    const res = await fetch(`${service.url}${path}`, {
      method: json === undefined ? "GET" : "POST",
      headers: {
        Authorization: `Bearer ${as}`,
        ...(json === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const onWeb = (landingPage: string | null, username: string, password = PASSWORD) => {
    assert.ok(landingPage, "the invite has a landing page (mod_invites_page)");
    return registerOnWeb({ httpPort: prosody.httpPort, landingPage, domain: HOST, username, password });
  };
  /** The account logs in with the password it chose on the page. */
  const canLogIn = async (username: string) => {
    const session = await login({ port: prosody.c2sPort, domain: HOST, username, password: PASSWORD });
    await session.close();
  };
  const keyId = (line: string) => line.split("/")[0];
  const recent = (at: number) => Math.abs(at - Date.now() / 1_000) < 60;

  it("the page is served, with mod_password_policy's rules in force; a refused form uses nothing up", async () => {
    const made = await call("/invites/account", {}, createKeyLine);
    assert.equal(made.status, 201);
    const short = await onWeb(made.body.landing_page, "pat", "short");
    assert.ok(!short.registered && short.at === "form", JSON.stringify(short));
    assert.match(short.message ?? "", /too short/i);
    const withName = await onWeb(made.body.landing_page, "pat", "pat-is-my-password");
    assert.ok(!withName.registered && withName.at === "form", JSON.stringify(withName));
    assert.match(withName.message ?? "", /must not include your username/i);
    assert.equal(accountExists(prosody.dataDir, HOST, "pat"), false);
    assert.ok(await inviteIsValid(made.body.landing_page ?? "", prosody.httpPort), "the invite is still valid");
    const shown = await call(`/invites/${made.body.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.redemptions ?? [], []);
  });

  it("an account invite (POST /invites/account): the redemption and the account's invite and key are recorded", async () => {
    const made = await call("/invites/account", {}, createKeyLine);
    assert.equal(made.status, 201);
    const done = await onWeb(made.body.landing_page, "wanda");
    assert.ok(done.registered, JSON.stringify(done));
    assert.ok(accountExists(prosody.dataDir, HOST, "wanda"));
    await canLogIn("wanda");

    const shown = await call(`/invites/${made.body.id}`);
    assert.equal(shown.status, 200, JSON.stringify(shown.body));
    assert.deepEqual(
      shown.body.redemptions?.map((r) => r.jid),
      [`wanda@${HOST}`],
    );
    for (const r of shown.body.redemptions ?? []) {
      assert.ok(recent(r.at), `redeemed at ${r.at}`);
      assert.equal(r.deleted, false);
    }

    const account = await call<AccountInvite>(`/accounts/${encodeURIComponent(`wanda@${HOST}`)}/invite`);
    assert.equal(account.status, 200, JSON.stringify(account.body));
    assert.equal(account.body.jid, `wanda@${HOST}`);
    assert.equal(account.body.invite, made.body.id);
    assert.equal(account.body.key, keyId(createKeyLine));
    assert.equal(account.body.source, `invites-api/${account.body.key}`);
    assert.ok(recent(account.body.at));

    // A single-use invite is used up by a web registration too: the page lets nobody else in.
    assert.equal(await inviteIsValid(made.body.landing_page ?? "", prosody.httpPort), false);
    const again = await onWeb(made.body.landing_page, "walt");
    assert.equal(again.registered, false, JSON.stringify(again));
    assert.equal(accountExists(prosody.dataDir, HOST, "walt"), false);
  });

  it("a group invite with max_uses 2: two web registrations pass and are recorded, the third is refused", async () => {
    const made = await call("/invites/group", { groups: ["team"], ttl: 600, max_uses: 2 });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.max_uses, 2);
    for (const name of ["xena", "yuri"]) {
      const done = await onWeb(made.body.landing_page, name);
      assert.ok(done.registered, `${name}: ${JSON.stringify(done)}`);
      await canLogIn(name);
    }

    const third = await onWeb(made.body.landing_page, "zoe");
    assert.ok(!third.registered, JSON.stringify(third));
    assert.equal(third.at, "form", "the page shows the form; the registration is refused when posted");
    assert.match(third.message ?? "", /used as many times as it may be/);
    assert.equal(accountExists(prosody.dataDir, HOST, "zoe"), false, "no account zoe");
    await assert.rejects(login({ port: prosody.c2sPort, domain: HOST, username: "zoe", password: PASSWORD }));

    const shown = await call(`/invites/${made.body.id}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.uses, 2);
    assert.deepEqual(shown.body.redemptions?.map((r) => r.jid).sort(), [`xena@${HOST}`, `yuri@${HOST}`]);
    for (const r of shown.body.redemptions ?? []) assert.ok(recent(r.at), `redeemed at ${r.at}`);

    for (const name of ["xena", "yuri"]) {
      const account = await call<AccountInvite>(`/accounts/${name}/invite`);
      assert.equal(account.status, 200, `${name}: ${JSON.stringify(account.body)}`);
      assert.equal(account.body.jid, `${name}@${HOST}`);
      assert.equal(account.body.invite, made.body.id);
      assert.equal(account.body.key, keyId(manageKey));
      assert.equal(account.body.source, `invites-api/${account.body.key}`);
    }
    assert.equal((await call(`/accounts/zoe/invite`)).status, 404);
  });

  it("web and in-band registrations count against the same cap", async () => {
    const made = await call("/invites/group", { groups: ["team"], ttl: 600, max_uses: 2 });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const inBand = (username: string) =>
      registerWithInvite({ port: prosody.c2sPort, domain: HOST, token: made.body.id, username, password: PASSWORD });

    assert.ok((await onWeb(made.body.landing_page, "ula")).registered);
    await inBand("vic");
    const onPage = await onWeb(made.body.landing_page, "wes");
    assert.ok(!onPage.registered && onPage.at === "form", JSON.stringify(onPage));
    assert.match(onPage.message ?? "", /used as many times as it may be/);
    await assert.rejects(inBand("xan"), RegistrationError);
    for (const name of ["wes", "xan"]) assert.equal(accountExists(prosody.dataDir, HOST, name), false, name);

    const shown = await call(`/invites/${made.body.id}`);
    assert.equal(shown.body.uses, 2);
    assert.deepEqual(shown.body.redemptions?.map((r) => r.jid).sort(), [`ula@${HOST}`, `vic@${HOST}`]);
  });
});

// With Prosody's own storage drivers nothing yields between user-registering and user-registered,
// so registrations never overlap there. A storage or auth backend on the network waits on I/O: the
// session's runner (or the HTTP request's) yields and Prosody serves others meanwhile.
// mod_storage_yielding (a test module) makes the account store wait so.
describe(`web and in-band registrations overlapping in Prosody (storage that waits on I/O), Prosody ${VERSION}`, () => {
  let stack: RunningStack | undefined;
  before(async () => {
    stack = await startWebRegistrationStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: [...MANAGE_MODULES, "invites_register_web"] } },
        storeDrivers: { accounts: "yielding" },
        extra: [`invites_manage_jids = { "${COMPONENT.domain}" }`, `invites_manage_groups = { team = "Team" }`].join(
          "\n",
        ),
      },
      { component: COMPONENT },
    );
  });
  after(() => stack?.stop());

  it("a reusable invite capped at N: of N+1 at once, on the page and in-band, exactly N pass", async () => {
    assert.ok(stack);
    const { prosody, service } = stack;
    const key = await createKey(stack.keyStore, HOST, "manage", "--scope", "manage");
    const call = async (path: string, json?: unknown) => {
      const res = await fetch(`${service.url}${path}`, {
        method: json === undefined ? "GET" : "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      });
      return (await res.json()) as InviteJson;
    };
    const made = await call("/invites/group", { groups: ["team"], ttl: 600, max_uses: 3 });
    const landingPage = made.landing_page;
    assert.ok(landingPage, "the invite has a landing page (mod_invites_page)");
    const onPage = ["ada", "bea"];
    const inBand = ["cyd", "dot"];
    const logFrom = prosody.log().length;
    await Promise.all([
      ...onPage.map((username) =>
        registerOnWeb({ httpPort: prosody.httpPort, landingPage, domain: HOST, username, password: PASSWORD }),
      ),
      ...inBand.map((username) =>
        registerWithInvite({ port: prosody.c2sPort, domain: HOST, token: made.id, username, password: PASSWORD }).catch(
          (err: unknown) => assert.ok(err instanceof RegistrationError, String(err)),
        ),
      ),
    ]);
    // Not vacuous: three at once, past user-registering and not yet registered, of two on the page
    // and two in-band, so web and in-band registrations overlapped.
    const atOnce = mostWritesHeldAtOnce(prosody.log().slice(logFrom));
    assert.ok(atOnce >= 3, `the registrations did not overlap (at most ${atOnce} at once)`);
    const registered = [...onPage, ...inBand].filter((name) => accountExists(prosody.dataDir, HOST, name));
    assert.equal(registered.length, 3, `registered: ${registered.join(", ")}`);
    // A use is counted when the handlers of user-registered run, which may be after the answer.
    let shown = await call(`/invites/${made.id}`);
    for (const deadline = Date.now() + 10_000; shown.uses !== 3 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      shown = await call(`/invites/${made.id}`);
    }
    assert.equal(shown.uses, 3);
    assert.deepEqual(shown.redemptions?.map((r) => r.jid).sort(), registered.map((n) => `${n}@${HOST}`).sort());
  });
});
