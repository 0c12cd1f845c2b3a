import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Element } from "@xmpp/component";
import { pino } from "pino";
import { AppError } from "../../src/errors.js";
import type { InviteJson } from "../../src/http/apiTypes.js";
import { cachedCommands } from "../../src/xmpp/adhoc.js";
import { connectComponent, type ComponentConnection } from "../../src/xmpp/connection.js";
import type { InviteDoor } from "../../src/xmpp/inviteDoor.js";
import { createInviteDoor } from "../../src/xmpp/inviteDoorCommands.js";
import { recordSecret } from "../support/handedOut.js";
import { MANAGE_MODULES, mostWritesHeldAtOnce, type RunningProsody } from "../support/prosody.js";
import type { RunningService } from "../support/service.js";
import { createKey, startStack, type RunningStack } from "../support/stack.js";
import { login, RegistrationError, registerWithInvite, type XmppSession } from "../support/xmppClient.js";

// The invite page's door to Prosody (issue 28): mod_invites_manage's landing, name and redeem
// commands, driven through src/xmpp/inviteDoorCommands.ts over a component connection of the
// test's own (the page's stand-in), while the service makes invites through its HTTP API.
const HOST = "door.test";
const COMPONENT = { domain: "invites.door.test", secret: "door-service-secret" };
const PAGE = { domain: "page.door.test", secret: "door-page-secret" };
// The invite page invites_page points at: nothing listens there, the links only have to say so.
const PAGE_URL = "https://invites.door.example/invite";

const on13 = process.env.PROSODY_VERSION === "13";
const MANAGE = "xmpp:invites-api/mod_invites_manage#";
const ADHOC_CREATE_ACCOUNT = "urn:xmpp:invite#create-account";
const NS_COMMANDS = "http://jabber.org/protocol/commands";

/** Every password the test sets: none may reach Prosody's log (nor any other, npm test's scan). */
const passwords: string[] = [];
function password(name: string): string {
  const chosen = `${name}-pässword-${Math.random().toString(36).slice(2, 10)}`;
  passwords.push(chosen);
  recordSecret("account password", chosen);
  return chosen;
}
/** Every token the test handles, for the same check. */
const tokens: string[] = [];

const tokenOf = (uri: string): string => {
  const token = /preauth=([A-Za-z0-9_-]+)/.exec(uri)?.[1];
  assert.ok(token, `no token in ${uri}`);
  tokens.push(token);
  return token;
};

const rejectsWith = (expected: string) => (err: unknown) => {
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, expected, err.message);
  return true;
};

/**
 * The door over a component connection of the test's own, as the page's stand-in; `replies` gets
 * the form of every reply, as text.
 */
async function openDoor(prosody: RunningProsody, replies: string[] = []) {
  const connection = connectComponent({
    service: `xmpp://127.0.0.1:${prosody.componentPort}`,
    ...PAGE,
    reconnect: { minMs: 100, maxMs: 1_000 },
    log: pino({ level: "silent" }),
  });
  await connection.online();
  const adhoc = {
    componentJid: PAGE.domain,
    timeoutMs: 10_000,
    request: async (stanza: Element, timeoutMs: number) => {
      const reply = await connection.request(stanza, timeoutMs);
      replies.push(reply.getChild("command", NS_COMMANDS)?.getChild("x", "jabber:x:data")?.toString() ?? "");
      return reply;
    },
  };
  return { door: createInviteDoor(adhoc, cachedCommands(adhoc)), connection };
}

/** Makes an invite through the service's API. */
async function makeInvite(
  service: RunningService,
  key: string,
  kind: "account" | "group" | "reset",
  body: Record<string, unknown>,
): Promise<InviteJson> {
  const res = await fetch(`${service.url}/invites/${kind}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const invite = (await res.json()) as InviteJson;
  tokens.push(invite.id);
  return invite;
}

const MODULE_OPTIONS = [
  `invites_manage_jids = { "${COMPONENT.domain}", "${PAGE.domain}" }`,
  `invites_manage_groups = { team = "The Team" }`,
].join("\n");

describe("the invite page's door (landing, name, redeem), against a real Prosody", () => {
  let stack: RunningStack | undefined;
  let prosody: RunningProsody;
  let service: RunningService;
  let key: string;
  let connection: ComponentConnection | undefined;
  let door: InviteDoor;
  let root: XmppSession | undefined;
  let takenPassword = "";
  /** The form of every reply the page's component got, as text: what the door ever saw of an invite. */
  const replies: string[] = [];

  before(async () => {
    stack = await startStack(
      {
        hosts: [HOST],
        components: [COMPONENT, PAGE],
        admins: [],
        hostOptions: {
          [HOST]: {
            modules: MANAGE_MODULES,
            // chief: an admin without an account yet, whose name no invite through the page may take.
            admins: [`root@${HOST}`, `chief@${HOST}`],
            lines: [`invites_page = "${PAGE_URL}/{host}/{invite.token}"`],
          },
        },
        extra: MODULE_OPTIONS,
      },
      { component: COMPONENT },
    );
    ({ prosody, service } = stack);
    key = await createKey(stack.keyStore, HOST, "manage", "--scope", "manage");
    const rootPassword = password("root");
    prosody.ctl(["register", "root", HOST, rootPassword]);
    takenPassword = password("taken");
    prosody.ctl(["register", "taken", HOST, takenPassword]);
    ({ door, connection } = await openDoor(prosody, replies));
    root = await login({ port: prosody.c2sPort, domain: HOST, username: "root", password: rootPassword });
  });
  after(async () => {
    await root?.close();
    await connection?.stop();
    await stack?.stop();
  });

  const make = (kind: "account" | "group" | "reset", body: Record<string, unknown>) =>
    makeInvite(service, key, kind, body);
  async function shown(id: string): Promise<InviteJson> {
    const res = await fetch(`${service.url}/invites/${id}`, { headers: { Authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    return (await res.json()) as InviteJson;
  }
  /** The invite is used up, by these accounts (the registrations the API shows). */
  async function usedBy(id: string, ...jids: string[]): Promise<InviteJson> {
    const record = await shown(id);
    assert.equal(record.state, "used");
    assert.deepEqual(record.redemptions?.map((r) => r.jid).sort(), jids.sort());
    return record;
  }
  /** Runs one of mod_invites_manage's commands as root, an admin of the host, from his own client. */
  async function asRoot(node: string, fields: Record<string, string | string[]>) {
    assert.ok(root);
    const result = await root.execute(HOST, node, fields);
    assert.equal(result.status, "completed", result.note);
    return result;
  }
  const prosodyPage = (token: string) => `http://${HOST}:${prosody.httpPort}/invites_page?${token}`;
  const servicePage = (token: string) => `${PAGE_URL}/${HOST}/${token}`;

  it("landing of an API invite: what Prosody's own page shows, never the note or the source", async () => {
    const note = "a note only the key holder may read";
    const invite = await make("group", { groups: ["team"], ttl: 600, max_uses: 3, note });
    assert.equal(invite.landing_page, servicePage(invite.id), "within the ceiling: the page's link");
    const landing = await door.landing(HOST, invite.id);
    assert.deepEqual(landing, {
      host: HOST,
      state: "pending",
      kind: "account",
      groups: ["The Team"],
      uri: invite.uri,
      expires: invite.expires,
      usesLeft: 3,
    });
    const said = replies.at(-1) ?? "";
    // The source (invites-api/KEY) and created_by (the service's JID) stay Prosody's.
    assert.match(said, /pending/);
    for (const secret of [note, "invites-api/", COMPONENT.domain]) {
      assert.ok(!said.includes(secret), `the landing says ${secret}`);
    }
    const named = await make("account", { username: "nadia", ttl: 600 });
    assert.deepEqual(
      { ...(await door.landing(HOST, named.id)), expires: 0 },
      { host: HOST, state: "pending", kind: "account", username: "nadia", groups: [], uri: named.uri, expires: 0 },
    );
  });

  it("an admin's own invite from his client (mod_invites_adhoc), within the ceiling, is the page's", async () => {
    const made = await asRoot(ADHOC_CREATE_ACCOUNT, {});
    const token = tokenOf(made.fields.get("uri")?.[0] ?? "");
    assert.equal(made.fields.get("landing-url")?.[0], servicePage(token));
    const landing = await door.landing(HOST, token);
    assert.equal(landing.state, "pending");
    assert.equal(landing.kind, "account");
    assert.equal(landing.username, undefined);
    const jid = await door.redeem(HOST, token, { username: "ada", password: password("ada") });
    assert.deepEqual(jid, { jid: `ada@${HOST}` });
  });

  it("an admin's contact invite names him as the inviter; the new account gets him as a contact", async () => {
    const made = await asRoot("urn:xmpp:invite#invite", {});
    const token = tokenOf(made.fields.get("uri")?.[0] ?? "");
    const landing = await door.landing(HOST, token);
    assert.equal(landing.inviter, `root@${HOST}`);
    assert.equal(landing.kind, "account");
    assert.equal(landing.username, undefined);
    const secret = password("friend");
    await door.redeem(HOST, token, { username: "friend", password: secret });
    const friend = await login({ port: prosody.c2sPort, domain: HOST, username: "friend", password: secret });
    try {
      assert.equal((await friend.roster()).find((item) => item.jid === `root@${HOST}`)?.subscription, "both");
    } finally {
      await friend.close();
    }
    // A user's contact invite gives no account (allow_user_invites is off): not the page's.
    const taken = await login({ port: prosody.c2sPort, domain: HOST, username: "taken", password: takenPassword });
    try {
      const contact = await taken.execute(HOST, "urn:xmpp:invite#invite");
      const contactToken = tokenOf(contact.fields.get("uri")?.[0] ?? "");
      await assert.rejects(door.landing(HOST, contactToken), rejectsWith("invite_not_found"));
    } finally {
      await taken.close();
    }
  });

  it("an invite above the ceiling keeps Prosody's own page and is unknown to the door", async () => {
    const above = [
      // A reset of an admin, and a name reserved for an admin (not registered yet), on both versions.
      await asRoot(`${MANAGE}create-reset`, { username: "root" }),
      await asRoot(`${MANAGE}create-account`, { username: "chief" }),
      // 13: an invite giving the admin role.
      ...(on13 ? [await asRoot(`${MANAGE}create-account`, { roles: ["prosody:admin"] })] : []),
    ];
    for (const made of above) {
      const token = tokenOf(made.fields.get("uri")?.[0] ?? "");
      assert.equal(made.fields.get("landing-url")?.[0], prosodyPage(token), "Prosody's own page");
      await assert.rejects(door.landing(HOST, token), rejectsWith("invite_not_found"));
      await assert.rejects(door.checkName(HOST, token, "root"), rejectsWith("invite_not_found"));
      await assert.rejects(door.redeem(HOST, token, { password: password("above") }), rejectsWith("invite_not_found"));
    }
    // The same kind of invite within the ceiling goes to the page.
    const reset = await make("reset", { username: "taken" });
    assert.equal(reset.landing_page, servicePage(reset.id));
  });

  it("name: free, taken, invalid; a named invite's own name only; an admin's name is taken", async () => {
    const invite = await make("account", { ttl: 600 });
    assert.equal(await door.checkName(HOST, invite.id, "newcomer"), "free");
    assert.equal(await door.checkName(HOST, invite.id, "Taken"), "taken", "nodeprep folds the case");
    assert.equal(await door.checkName(HOST, invite.id, "chief"), "taken", "listed in admins");
    for (const name of ["a b", "a@b", "a/b", "", "x".repeat(1024)]) {
      assert.equal(await door.checkName(HOST, invite.id, name), "invalid", JSON.stringify(name.slice(0, 8)));
    }
    const named = await make("account", { username: "nina", ttl: 600 });
    assert.equal(await door.checkName(HOST, named.id, "nina"), "free");
    assert.equal(await door.checkName(HOST, named.id, "other"), "taken");
    await assert.rejects(door.checkName(HOST, "NoSuchToken1234", "x"), rejectsWith("invite_not_found"));
  });

  it("redeem registers the account: it logs in, the invite is used and records the registration", async () => {
    const invite = await make("account", { ttl: 600 });
    const secret = password("newbie");
    assert.deepEqual(await door.redeem(HOST, invite.id, { username: "Newbie", password: secret, ip: "192.0.2.7" }), {
      jid: `newbie@${HOST}`,
    });
    const session = await login({ port: prosody.c2sPort, domain: HOST, username: "newbie", password: secret });
    await session.close();
    assert.equal((await door.landing(HOST, invite.id)).state, "used");
    assert.equal((await door.landing(HOST, invite.id)).uri, undefined, "no uri once used");
    await assert.rejects(door.checkName(HOST, invite.id, "other"), rejectsWith("invite_gone"));
    await assert.rejects(
      door.redeem(HOST, invite.id, { username: "other", password: password("other") }),
      rejectsWith("invite_gone"),
    );
    await usedBy(invite.id, `newbie@${HOST}`);
  });

  it("a taken name is user_exists; a named invite registers its own name only; an admin's name is refused", async () => {
    const invite = await make("account", { ttl: 600 });
    await assert.rejects(
      door.redeem(HOST, invite.id, { username: "taken", password: password("taken2") }),
      rejectsWith("user_exists"),
    );
    await assert.rejects(
      door.redeem(HOST, invite.id, { username: "chief", password: password("chief") }),
      rejectsWith("account_protected"),
    );
    assert.equal((await door.landing(HOST, invite.id)).state, "pending", "refusals use nothing up");
    const named = await make("account", { username: "nora", ttl: 600 });
    assert.deepEqual(await door.redeem(HOST, named.id, { username: "someone", password: password("nora") }), {
      jid: `nora@${HOST}`,
    });
  });

  it("the password floor: 8 characters, SASLprep; the account is not made", async () => {
    const invite = await make("account", { ttl: 600 });
    const refused = async (secret: string, rule: RegExp) => {
      await assert.rejects(door.redeem(HOST, invite.id, { username: "weak", password: secret }), (err: unknown) => {
        rejectsWith("bad_request")(err);
        assert.match((err as Error).message, rule);
        assert.ok(!(err as Error).message.includes(secret), "the message holds the password");
        return true;
      });
    };
    await refused("short-1", /at least 8 characters/);
    await refused("\uE000private-use", /SASLprep/);
    assert.equal(await door.checkName(HOST, invite.id, "weak"), "free");
  });

  it("a group invite puts each account into its group; its use cap refuses the one past it as gone", async () => {
    const invite = await make("group", { groups: ["team"], ttl: 600, max_uses: 2 });
    const secrets = { gail: password("gail"), gus: password("gus") };
    await door.redeem(HOST, invite.id, { username: "gail", password: secrets.gail });
    assert.equal((await door.landing(HOST, invite.id)).usesLeft, 1);
    await door.redeem(HOST, invite.id, { username: "gus", password: secrets.gus });
    await assert.rejects(
      door.redeem(HOST, invite.id, { username: "gwen", password: password("gwen") }),
      rejectsWith("invite_gone"),
    );
    const landing = await door.landing(HOST, invite.id);
    assert.equal(landing.state, "used");
    assert.equal(landing.usesLeft, 0);
    const gus = await login({ port: prosody.c2sPort, domain: HOST, username: "gus", password: secrets.gus });
    try {
      const gail = (await gus.roster()).find((item) => item.jid === `gail@${HOST}`);
      assert.deepEqual(gail?.groups, ["The Team"]);
    } finally {
      await gus.close();
    }
    assert.equal((await usedBy(invite.id, `gail@${HOST}`, `gus@${HOST}`)).uses, 2);
  });

  it("a reset sets the account's password: the new one logs in, the old one no longer", async () => {
    const old = password("rex-old");
    prosody.ctl(["register", "rex", HOST, old]);
    const invite = await make("reset", { username: "rex" });
    const landing = await door.landing(HOST, invite.id);
    assert.equal(landing.kind, "reset");
    assert.equal(landing.username, "rex");
    assert.equal(await door.checkName(HOST, invite.id, "rex"), "free");
    const fresh = password("rex-new");
    assert.deepEqual(await door.redeem(HOST, invite.id, { username: "ignored", password: fresh }), {
      jid: `rex@${HOST}`,
    });
    const session = await login({ port: prosody.c2sPort, domain: HOST, username: "rex", password: fresh });
    await session.close();
    await assert.rejects(
      login({ port: prosody.c2sPort, domain: HOST, username: "rex", password: old }),
      /not-authorized/,
    );
    assert.equal((await door.landing(HOST, invite.id)).state, "used");
    await usedBy(invite.id, `rex@${HOST}`);
  });

  it("expired, revoked and unknown tokens", async () => {
    const expiring = await make("account", { ttl: 1 });
    const revoked = await make("account", { ttl: 600 });
    const res = await fetch(`${service.url}/invites/${revoked.id}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${key}` },
    });
    assert.ok(res.ok, `revoke: ${res.status}`);
    assert.equal((await door.landing(HOST, revoked.id)).state, "revoked");
    await assert.rejects(
      door.redeem(HOST, revoked.id, { username: "late", password: password("late") }),
      rejectsWith("invite_gone"),
    );
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const landing = await door.landing(HOST, expiring.id);
    assert.equal(landing.state, "expired");
    assert.equal(landing.uri, undefined);
    await assert.rejects(door.checkName(HOST, expiring.id, "late"), rejectsWith("invite_gone"));
    for (const token of ["NoSuchToken1234", "-leading-dash", "x".repeat(64)]) {
      await assert.rejects(door.landing(HOST, token), rejectsWith("invite_not_found"), token);
    }
  });

  it("Prosody's log holds neither a token nor a password", () => {
    const log = prosody.log();
    assert.ok(log.length > 0 && tokens.length > 10 && passwords.length > 10);
    for (const secret of [...tokens, ...passwords]) {
      assert.ok(!log.includes(secret), `Prosody's log holds ${secret.slice(0, 4)}…`);
    }
  });
});

// Prosody runs a component's stanzas outside any async runner, so two redeems never overlap; an
// in-band registration does overlap one when a storage or auth backend waits on I/O (here
// mod_storage_yielding): between its user-registering and user-registered it holds a place of the
// invite's use cap, which the door's redeem must respect.
/**
 * The stack for a describe whose `stores` wait on I/O (mod_storage_yielding), started before its
 * tests and stopped after them, with the door's connection a test opens (`connection`).
 */
function overlappingStack(stores: Record<string, string>) {
  const held: { stack?: RunningStack; connection?: ComponentConnection } = {};
  before(async () => {
    held.stack = await startStack(
      {
        hosts: [HOST],
        components: [COMPONENT, PAGE],
        admins: [],
        hostOptions: { [HOST]: { modules: MANAGE_MODULES } },
        storeDrivers: stores,
        extra: MODULE_OPTIONS,
      },
      { component: COMPONENT },
    );
  });
  after(async () => {
    await held.connection?.stop();
    await held.stack?.stop();
  });
  return held;
}

/** The door over `held`'s stack (its connection kept there, to stop), and a manage key of the service's. */
async function doorOn(held: ReturnType<typeof overlappingStack>) {
  const { stack } = held;
  assert.ok(stack);
  const opened = await openDoor(stack.prosody);
  held.connection = opened.connection;
  const key = await createKey(stack.keyStore, HOST, "manage", "--scope", "manage");
  return { prosody: stack.prosody, service: stack.service, door: opened.door, key };
}

/** Waits until mod_storage_yielding holds a write to `store` that Prosody logged after `logFrom`. */
async function untilWriteHeld(prosody: RunningProsody, logFrom: number, store: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; mostWritesHeldAtOnce(prosody.log().slice(logFrom), store) < 1;) {
    assert.ok(Date.now() < deadline, `no write to ${store} was ever held`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("the door and an in-band registration overlapping on a capped invite", () => {
  const held = overlappingStack({ accounts: "yielding" });

  it("a cap of 1 held by a registration under way: the door's redeem is gone, one account is made", async () => {
    const { prosody, service, door, key } = await doorOn(held);
    const invite = await makeInvite(service, key, "group", { groups: ["team"], ttl: 600, max_uses: 1 });
    const logFrom = prosody.log().length;
    const inBand = registerWithInvite({
      port: prosody.c2sPort,
      domain: HOST,
      token: invite.id,
      username: "early",
      password: password("early"),
    });
    // Its account's write is held: it is past user-registering, its place taken, not yet counted.
    await untilWriteHeld(prosody, logFrom, "accounts");
    await assert.rejects(
      door.redeem(HOST, invite.id, { username: "late", password: password("late") }),
      rejectsWith("invite_gone"),
    );
    await inBand;
    // Its use is counted by the handlers of user-registered, which may run after the client's answer.
    let landing = await door.landing(HOST, invite.id);
    for (const deadline = Date.now() + 10_000; landing.state !== "used" && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      landing = await door.landing(HOST, invite.id);
    }
    assert.equal(landing.state, "used");
    const res = await fetch(`${service.url}/invites/${invite.id}`, { headers: { Authorization: `Bearer ${key}` } });
    const shown = (await res.json()) as InviteJson;
    assert.equal(shown.uses, 1);
    assert.deepEqual(
      shown.redemptions?.map((r) => r.jid),
      [`early@${HOST}`],
    );
  });
});

// The count of uses waits on storage too (mod_storage_yielding on invites_manage_uses): an in-band
// registration's count is read, then written back a while later, and the door's redeem (which never
// waits) lands in between. Counted in memory, the check and the place it takes are one step, and so
// is the count: N+1 registrations make N accounts, count N uses, and the next is refused.
describe("the door and in-band registrations on a capped invite, the count of uses waiting on storage", () => {
  const held = overlappingStack({ accounts: "yielding", invites_manage_uses: "yielding" });

  it("a cap of 3: two in-band registrations, then the door's redeem and a third in-band while a count is written: 3 accounts, 3 uses", async () => {
    const { prosody, service, door, key } = await doorOn(held);
    const cap = 3;
    const invite = await makeInvite(service, key, "group", { groups: ["team"], ttl: 600, max_uses: cap });
    const inBand = (username: string) =>
      registerWithInvite({
        port: prosody.c2sPort,
        domain: HOST,
        token: invite.id,
        username,
        password: password(username),
      }).then(() => username);
    const logFrom = prosody.log().length;
    const first = ["ana", "ben"].map(inBand);
    // A count of a use is being written (it waits): the door's redeem and another in-band start now.
    await untilWriteHeld(prosody, logFrom, "invites_manage_uses");
    const late = door.redeem(HOST, invite.id, { username: "late", password: password("late") }).then(() => "late");
    const outcomes = await Promise.allSettled([...first, late, inBand("cai")]);
    const made = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    assert.equal(made.length, cap, `accounts made: ${made.join(", ")}`);
    // Each use is counted by the handlers of user-registered, which may run after the answer.
    const show = async () => {
      const res = await fetch(`${service.url}/invites/${invite.id}`, { headers: { Authorization: `Bearer ${key}` } });
      return (await res.json()) as InviteJson;
    };
    let shown = await show();
    for (const deadline = Date.now() + 10_000; shown.redemptions?.length !== cap && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      shown = await show();
    }
    assert.equal(shown.uses, cap);
    assert.deepEqual(shown.redemptions?.map((r) => r.jid).sort(), made.map((n) => `${n}@${HOST}`).sort());
    assert.equal((await door.landing(HOST, invite.id)).state, "used");
    await assert.rejects(inBand("dan"), RegistrationError);
    // What was stored, not only what the process kept: after a restart the count is still 3.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await prosody.kill();
    await prosody.start();
    await assert.rejects(inBand("eve"), RegistrationError);
    for (const deadline = Date.now() + 15_000; ;) {
      shown = await show().catch(() => shown);
      if (shown.uses === cap && shown.redemptions?.length === cap) break;
      assert.ok(Date.now() < deadline, `after a restart: ${shown.uses} uses`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
});
