import assert from "node:assert/strict";
import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Element } from "@xmpp/component";
import Keyv from "keyv";
import { pino } from "pino";
import { AppError } from "../../src/errors.js";
import { notifyInviterBy } from "../../src/redemptions/inviterNotice.js";
import { startRedemptionSync, type RedemptionSync } from "../../src/redemptions/redemptionSync.js";
import { openMemory } from "../../src/store/memory/index.js";
import { cachedCommands } from "../../src/xmpp/adhoc.js";
import type { ComponentConnection } from "../../src/xmpp/connection.js";
import { createInviteDoor } from "../../src/xmpp/inviteDoorCommands.js";
import { REDEEMED_NUDGE, type InviteManager } from "../../src/xmpp/inviteManager.js";
import { createMessageSender } from "../../src/xmpp/messages.js";
import { createPersonLookup } from "../../src/xmpp/people.js";
import { recordSecret } from "../support/handedOut.js";
import { openInbox } from "../support/inbox.js";
import { connectModuleClients } from "../support/moduleClients.js";
import { chownTree, createProsody, MANAGE_MODULES, prosodyUser, type RunningProsody } from "../support/prosody.js";
import { registerOnWeb, webRegistrationModules } from "../support/webRegister.js";
import {
  login,
  RegistrationError,
  registerWithInvite,
  XmppStanzaError,
  type XmppSession,
} from "../support/xmppClient.js";

// People (issue 29), Prosody's side: mod_invites_manage's person command (who an account is, and
// nothing more), invites of a person whose account is gone registering no one (in band, through the
// invite page's door, Prosody's own contact invites too), and the inviter hearing back, as a chat
// message their own client receives. Against a real Prosody, 0.12 or 13 (PROSODY_VERSION), through
// the service's own clients (src/xmpp/) over a component connection of the test's own.
const HOST = "people.test";
const COMPONENT = { domain: "invites.people.test", secret: "people-service-secret" };
const MANAGE = "xmpp:invites-api/mod_invites_manage#";
const on13 = process.env.PROSODY_VERSION === "13";
const TEAM_LEAD = "example:team-lead";

const passwords = new Map<string, string>();
function password(name: string): string {
  let chosen = passwords.get(name);
  if (!chosen) {
    chosen = `${name}-pässword-${Math.random().toString(36).slice(2, 10)}`;
    passwords.set(name, chosen);
    recordSecret("account password", chosen);
  }
  return chosen;
}

const code = (expected: string) => (err: unknown) => {
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, expected, err.message);
  return true;
};
const refusedAsInvalid = (err: unknown) => {
  assert.ok(err instanceof RegistrationError, String(err));
  assert.equal(err.step, "register");
  assert.equal(err.text, "This invite is no longer valid");
  return true;
};

const DELETE_USER = "http://jabber.org/protocol/admin#delete-user";

/**
 * Deletes an account in the running server as an admin does, from root's client (mod_admin_adhoc):
 * 0.12's prosodyctl would write SQLite itself beside the server (no busy timeout: one of the two
 * writes fails, and the server's reads after it failed too).
 */
async function deleteAccount(prosody: RunningProsody, username: string): Promise<void> {
  const root = await login({ port: prosody.c2sPort, domain: HOST, username: "root", password: password("root") });
  try {
    const done = await root.execute(HOST, DELETE_USER, { accountjids: `${username}@${HOST}` });
    assert.equal(done.status, "completed", done.note);
  } finally {
    await root.close();
  }
}

describe(`people on Prosody ${on13 ? "13" : "0.12"}: the person command, inviters gone, inviters told`, () => {
  let prosody: RunningProsody | undefined;
  let connection: ComponentConnection | undefined;
  let manager: InviteManager;
  let root: XmppSession | undefined;
  let sync: RedemptionSync | undefined;
  const people = new Keyv();
  const adhocOf = (conn: ComponentConnection) => ({
    componentJid: COMPONENT.domain,
    timeoutMs: 20_000,
    request: (stanza: Element, timeoutMs: number) => conn.request(stanza, timeoutMs),
  });

  const ctl = (...args: string[]) => prosody!.ctl(args);
  /**
   * Makes an account. 13: through the running server (its shell), with its role in the same step: a
   * prosodyctl write of its own was at times not yet an account for the server's next shell command.
   */
  const register = (username: string, role = "prosody:registered") =>
    on13
      ? ctl("shell", "user", "create", `${username}@${HOST}`, password(username), role)
      : ctl("register", username, HOST, password(username));
  const personInvite = (username: string) =>
    manager.createAccount(HOST, { source: `invites-api/${username}@${HOST}`, ttl: 600 });
  const tokenOf = (uri: string) => {
    const token = /preauth=([A-Za-z0-9_-]+)/.exec(uri)?.[1];
    assert.ok(token, `no token in ${uri}`);
    return token;
  };
  const inBand = (token: string, username: string) =>
    registerWithInvite({ port: prosody!.c2sPort, domain: HOST, token, username, password: password(username) });

  before(async () => {
    prosody = await createProsody({
      hosts: [HOST],
      components: [COMPONENT],
      admins: [],
      hostOptions: {
        [HOST]: {
          // 13's prosodyctl shell talks to the running server through mod_admin_socket.
          modules: [...MANAGE_MODULES, "admin_adhoc", ...(on13 ? ["admin_shell", "admin_socket"] : [])],
          admins: [`root@${HOST}`],
          lines: [
            // A user's contact invite may register an account (Prosody's own user invites).
            "allow_user_invites = true",
            ...(on13
              ? [`custom_roles = { { name = "${TEAM_LEAD}", priority = 40, inherits = { "prosody:member" } } }`]
              : []),
          ],
        },
      },
      extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
    });
    const roles: Record<string, string> = { bob: "prosody:member", lead: TEAM_LEAD };
    const accounts = () => {
      for (const name of ["root", "alice", "bob", "carol", "dora", "erin", "fred", "lead"]) register(name, roles[name]);
    };
    // 0.12's prosodyctl writes the store itself: before the server runs, so that no write of the
    // server's meets them (SQLite without a busy timeout fails one of the two). 13's asks the server.
    if (!on13) accounts();
    await prosody.start();
    if (on13) {
      accounts();
      ctl("shell", "user", "disable", `carol@${HOST}`);
    }
    ({ connection, manager } = await connectModuleClients(prosody, COMPONENT));
    root = await login({ port: prosody.c2sPort, domain: HOST, username: "root", password: password("root") });
  });
  after(async () => {
    await sync?.stop();
    await root?.close();
    await connection?.stop();
    await prosody?.dispose();
  });

  it("person: an admin, a member, a missing account (13: a disabled one, a custom role), and nothing more", async () => {
    const lookup = createPersonLookup(adhocOf(connection!), cachedCommands(adhocOf(connection!)));
    const person = (username: string) => lookup.person(HOST, `${username}@${HOST}`);
    assert.deepEqual(await person("root"), { jid: `root@${HOST}`, exists: true, enabled: true, role: "prosody:admin" });
    assert.deepEqual(await person("alice"), {
      jid: `alice@${HOST}`,
      exists: true,
      enabled: true,
      role: "prosody:registered",
    });
    assert.deepEqual(await person("nobody"), { jid: `nobody@${HOST}`, exists: false, enabled: false, role: "" });
    if (on13) {
      assert.deepEqual(await person("bob"), {
        jid: `bob@${HOST}`,
        exists: true,
        enabled: true,
        role: "prosody:member",
      });
      assert.deepEqual(await person("carol"), {
        jid: `carol@${HOST}`,
        exists: true,
        enabled: false,
        role: "prosody:registered",
      });
      assert.deepEqual(await person("lead"), { jid: `lead@${HOST}`, exists: true, enabled: true, role: TEAM_LEAD });
    } else {
      assert.deepEqual(await person("bob"), {
        jid: `bob@${HOST}`,
        exists: true,
        enabled: true,
        role: "prosody:registered",
      });
    }
    // Prepped as Prosody preps it, and named as Prosody names it (nodeprep: case, and Unicode's
    // compatibility forms: a fullwidth "Ａ" is "a"), so that one account is one person everywhere.
    assert.deepEqual(await lookup.person(HOST, `Alice@${HOST}`), await person("alice"));
    assert.deepEqual(await lookup.person(HOST, `\uff21lice@${HOST}`), await person("alice"));

    // What the module itself answers (here to an admin's client): four fields, and refuses any JID
    // but a bare one of the host.
    const answered = await root!.execute(HOST, `${MANAGE}person`, { jid: `alice@${HOST}` });
    assert.equal(answered.status, "completed");
    assert.deepEqual([...answered.fields.keys()].sort(), ["enabled", "exists", "jid", "role"]);
    for (const jid of [`alice@other.test`, `alice@${HOST}/phone`, HOST]) {
      await assert.rejects(
        root!.execute(HOST, `${MANAGE}person`, { jid }),
        (err: unknown) => err instanceof XmppStanzaError && err.condition === "bad-request",
        jid,
      );
    }
    await assert.rejects(
      root!.execute(HOST, `${MANAGE}person`, {}),
      (err: unknown) => err instanceof XmppStanzaError && err.condition === "bad-request",
    );
    // Only for invites_manage_jids (and admins): not for an account of the host.
    const alice = await login({ port: prosody!.c2sPort, domain: HOST, username: "alice", password: password("alice") });
    try {
      await assert.rejects(
        alice.execute(HOST, `${MANAGE}person`, { jid: `root@${HOST}` }),
        (err: unknown) => err instanceof XmppStanzaError && err.condition === "forbidden",
      );
    } finally {
      await alice.close();
    }
  });

  it("a person's invite registers while they have an account, and no more once it is deleted", async () => {
    const door = createInviteDoor(adhocOf(connection!), cachedCommands(adhocOf(connection!)));
    const before = await personInvite("dora");
    await inBand(before.id, "dora-guest-1");
    const viaDoor = await personInvite("dora");
    assert.deepEqual(await door.redeem(HOST, viaDoor.id, { username: "dora-guest-2", password: password("g2") }), {
      jid: `dora-guest-2@${HOST}`,
    });

    const inBandLater = await personInvite("dora");
    const doorLater = await personInvite("dora");
    assert.equal((await door.landing(HOST, doorLater.id)).state, "pending");
    // A key's invite (no "@" in its source) is nobody's to lose.
    const keys = await manager.createAccount(HOST, { source: "invites-api/KEYID", ttl: 600 });
    await deleteAccount(prosody!, "dora");
    await assert.rejects(inBand(inBandLater.id, "dora-guest-3"), refusedAsInvalid);
    // The invite page is told it was withdrawn, with no link to use (while it said pending before).
    const landed = await door.landing(HOST, doorLater.id);
    assert.equal(landed.state, "revoked");
    assert.equal(landed.uri, undefined);
    await assert.rejects(door.checkName(HOST, doorLater.id, "dora-guest-4"), code("invite_gone"));
    await assert.rejects(
      door.redeem(HOST, doorLater.id, { username: "dora-guest-4", password: password("g4") }),
      code("invite_gone"),
    );
    // Refused, not used: still pending, and no account made.
    assert.equal((await manager.show(HOST, inBandLater.id)).state, "pending");
    assert.equal((await manager.show(HOST, doorLater.id)).state, "pending");
    const lookup = createPersonLookup(adhocOf(connection!), cachedCommands(adhocOf(connection!)));
    for (const name of ["dora-guest-3", "dora-guest-4"]) {
      assert.equal((await lookup.person(HOST, `${name}@${HOST}`)).exists, false, name);
    }
    await inBand(keys.id, "key-guest");
  });

  it("13: a disabled person's invite registers no one, and again once enabled", { skip: !on13 }, async () => {
    const invite = await personInvite("erin");
    ctl("shell", "user", "disable", `erin@${HOST}`);
    await assert.rejects(inBand(invite.id, "erin-guest"), refusedAsInvalid);
    ctl("shell", "user", "enable", `erin@${HOST}`);
    await inBand(invite.id, "erin-guest");
  });

  it("Prosody's own contact invite of a user: registers while the user exists, not after", async () => {
    const fred = await login({ port: prosody!.c2sPort, domain: HOST, username: "fred", password: password("fred") });
    let first: string;
    let second: string;
    try {
      first = tokenOf((await fred.execute(HOST, "urn:xmpp:invite#invite")).fields.get("uri")?.[0] ?? "");
      second = tokenOf((await fred.execute(HOST, "urn:xmpp:invite#invite")).fields.get("uri")?.[0] ?? "");
    } finally {
      await fred.close();
    }
    await inBand(first, "fred-friend-1");
    await deleteAccount(prosody!, "fred");
    await assert.rejects(inBand(second, "fred-friend-2"), refusedAsInvalid);
  });

  it("the inviter's client gets a chat message when someone registers with their invite (unless turned off)", async () => {
    const { ledger } = openMemory();
    const messages = createMessageSender({
      send: (stanza) => connection!.send(stanza),
      componentJid: COMPONENT.domain,
      knownHost: async (host) => host === HOST,
    });
    const told: string[] = [];
    const notify = notifyInviterBy(messages);
    sync = startRedemptionSync({
      manager,
      ledger,
      hosts: async () => [HOST],
      online: () => connection!.status().online,
      intervalMs: 3_600_000,
      log: pino({ level: "silent" }),
      people,
      notifyInviter: async (host, inviter, newJid) => {
        told.push(inviter);
        await notify(host, inviter, newJid);
      },
    });
    // Caught up with what the earlier tests registered (dora's guests: she is gone, her message goes nowhere).
    await sync.pass();
    connection!.onMessage((message) => {
      if (message.getChild("redeemed", REDEEMED_NUDGE)) sync?.nudge(String(message.attrs.from ?? ""));
    });

    await people.set(`notify:bob@${HOST}`, false);
    const alice = await openInbox({
      port: prosody!.c2sPort,
      domain: HOST,
      username: "alice",
      password: password("alice"),
    });
    const bob = await openInbox({ port: prosody!.c2sPort, domain: HOST, username: "bob", password: password("bob") });
    try {
      const bobs = await personInvite("bob");
      const alices = await personInvite("alice");
      await inBand(bobs.id, "bobs-friend");
      await inBand(alices.id, "alices-friend");
      const heard = await alice.next(COMPONENT.domain, (body) => body.includes("alices-friend"), 15_000);
      assert.equal(heard, `alices-friend@${HOST} joined with your invite.`);
      // Bob turned it off: he hears nothing, while the registration through his invite came first.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(bob.received, []);
      assert.ok(!told.includes(`bob@${HOST}`));
      // Told once, however many passes read on.
      await sync.pass();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(alice.received.filter((m) => m.body.includes("alices-friend")).length, 1);
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});

describe(`people on Prosody ${on13 ? "13" : "0.12"}: a person's invite on Prosody's own web registration`, () => {
  let prosody: RunningProsody | undefined;
  let connection: ComponentConnection | undefined;
  let manager: InviteManager;

  before(async () => {
    prosody = await createProsody({
      hosts: [HOST],
      components: [COMPONENT],
      admins: [],
      hostOptions: {
        [HOST]: {
          modules: [
            ...MANAGE_MODULES,
            "invites_register_web",
            "admin_adhoc",
            ...(on13 ? ["admin_shell", "admin_socket"] : []),
          ],
          admins: [`root@${HOST}`],
        },
      },
      extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
    });
    // mod_invites_register_web and mod_password_policy, as test/support/webRegister.ts gives them.
    const owner = prosodyUser();
    for (const [name, from] of Object.entries(webRegistrationModules())) {
      const to = join(prosody.dir, "modules", name);
      mkdirSync(to, { recursive: true });
      cpSync(from, to, { recursive: true, dereference: true });
      if (owner) chownTree(to, owner);
    }
    // As above: 0.12's prosodyctl before the server runs, 13's through it.
    const accounts = (running: RunningProsody) => {
      for (const name of ["root", "gina"]) {
        running.ctl(
          on13
            ? ["shell", "user", "create", `${name}@${HOST}`, password(name), "prosody:registered"]
            : ["register", name, HOST, password(name)],
        );
      }
    };
    if (!on13) accounts(prosody);
    await prosody.start();
    if (on13) accounts(prosody);
    ({ connection, manager } = await connectModuleClients(prosody, COMPONENT));
  });
  after(async () => {
    await connection?.stop();
    await prosody?.dispose();
  });

  it("registers while the person has an account; refused once it is deleted", async () => {
    const onWeb = async (username: string) => {
      const invite = await manager.createAccount(HOST, { source: `invites-api/gina@${HOST}`, ttl: 600 });
      assert.ok(invite.landingPage, "mod_invites_page gives the invite a page");
      return registerOnWeb({
        httpPort: prosody!.httpPort,
        landingPage: invite.landingPage,
        domain: HOST,
        username,
        // mod_password_policy refuses a password holding the username.
        password: password(`web-${username.length}`),
      });
    };
    assert.equal((await onWeb("gina-guest-1")).registered, true);
    const later = await manager.createAccount(HOST, { source: `invites-api/gina@${HOST}`, ttl: 600 });
    await deleteAccount(prosody!, "gina");
    assert.ok(later.landingPage);
    const refused = await registerOnWeb({
      httpPort: prosody!.httpPort,
      landingPage: later.landingPage,
      domain: HOST,
      username: "gina-guest-2",
      password: password("web-later"),
    });
    assert.equal(refused.registered, false);
    assert.ok(
      !refused.registered && refused.at === "form" && refused.message?.includes("no longer valid"),
      refused.page.body,
    );
  });
});
