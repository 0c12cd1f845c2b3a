import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { inviteIsValid } from "../support/invites.js";
import { probeCommand } from "../support/probe.js";
import { INVITE_MODULES, MANAGE_MODULES, type RunningProsody } from "../support/prosody.js";
import type { RunningService } from "../support/service.js";
import { createKey, startStack, type RunningStack } from "../support/stack.js";
import { login, registerWithInvite, RegistrationError, XmppStanzaError } from "../support/xmppClient.js";
import type { InviteJson } from "../../src/http/invitesResource.js";

// Least privilege: neither component is an admin anywhere; mod_invites_manage names both.
const HOST = "manage.test";
const PLAIN = "plain.test"; // no mod_invites_manage: the drop-in mode (the component is its admin)
const STRICT = "strict.test"; // the module with its default invites_manage_roles
const LISTED = "list.test"; // a host of its own for the exact listing
const COMPONENT = { domain: "invites.manage.test", secret: "manage-secret" };
// Configured exactly like COMPONENT, for commands the test sends itself while the service holds COMPONENT.
const PROBE = { domain: "probe.manage.test", secret: "probe-secret" };
const NODE = (name: string) => `xmpp:invites-api/mod_invites_manage#${name}`;
const DELETE_USER = "http://jabber.org/protocol/admin#delete-user";
const on13 = process.env.PROSODY_VERSION === "13";

describe("least privilege and the /invites resource, through real registrations", () => {
  let prosody: RunningProsody;
  let service: RunningService;
  let stack: RunningStack | undefined;
  let keyStore: string;
  const keys: Record<string, string> = {};

  before(async () => {
    stack = await startStack(
      {
        hosts: [HOST, PLAIN, STRICT, LISTED],
        components: [COMPONENT, PROBE],
        admins: [],
        hostOptions: {
          [HOST]: {
            modules: [...MANAGE_MODULES, "admin_adhoc"],
            admins: [`boss@${HOST}`],
            lines: [`invites_manage_roles = { "prosody:admin", "prosody:registered" }`],
          },
          [PLAIN]: { modules: INVITE_MODULES, admins: [COMPONENT.domain] },
          [STRICT]: { modules: MANAGE_MODULES },
          [LISTED]: { modules: MANAGE_MODULES },
        },
        extra: [
          `invites_manage_jids = { "${COMPONENT.domain}", "${PROBE.domain}" }`,
          `invites_manage_groups = { team = "Team" }`,
        ].join("\n"),
      },
      { component: COMPONENT },
    );
    ({ prosody, service, keyStore } = stack);
    for (const host of [HOST, PLAIN, STRICT, LISTED]) {
      keys[host] = await createKey(keyStore, host, "manage", "--scope", "manage");
    }
    prosody.ctl(["register", "alice", HOST, "alice-password-1"]);
    prosody.ctl(["register", "boss", HOST, "boss-password-1"]);
  });
  after(() => stack?.stop());

  const call = (path: string, init: { method?: string; json?: unknown; host?: string } = {}) =>
    fetch(`${service.url}${path}`, {
      method: init.method ?? (init.json === undefined ? "GET" : "POST"),
      headers: {
        Authorization: `Bearer ${keys[init.host ?? HOST]}`,
        ...(init.json === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
    });
  const create = async (kind: string, json: unknown, host = HOST): Promise<InviteJson> => {
    const res = await call(`/invites/${kind}`, { json, host });
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as InviteJson;
  };
  const register = (token: string, username: string, password = `${username}-password-1`, domain = HOST) =>
    registerWithInvite({ port: prosody.c2sPort, domain, token, username, password });
  const session = (username: string, password = `${username}-password-1`) =>
    login({ port: prosody.c2sPort, domain: HOST, username, password });

  it("the component is no admin, yet makes invites; an admin command is refused to it", async () => {
    const invite = await create("account", {});
    assert.ok(invite.landing_page && (await inviteIsValid(invite.landing_page, prosody.httpPort)));
    const legacy = await fetch(`${service.url}/invites_api?key=${keys[HOST]}`, { redirect: "manual" });
    assert.equal(legacy.status, 201, "/invites_api goes through mod_invites_manage");
    assert.ok(await inviteIsValid(legacy.headers.get("location") ?? "", prosody.httpPort));

    const probe = (node: string, fields: Record<string, string>) =>
      probeCommand(prosody.componentPort, PROBE, HOST, node, fields);
    assert.equal((await probe(NODE("create-account"), {})).status, "completed");
    assert.equal((await probe(DELETE_USER, { accountjids: `alice@${HOST}` })).condition, "forbidden");
    const alice = await session("alice");
    await alice.close();
  });

  it("a local user who is not named may not use the commands; the host's admin may", async () => {
    const alice = await session("alice");
    try {
      for (const name of ["create-account", "list"]) {
        await assert.rejects(alice.execute(HOST, NODE(name), {}), (err: unknown) => {
          assert.ok(err instanceof XmppStanzaError);
          assert.equal(err.condition, "forbidden");
          return true;
        });
      }
    } finally {
      await alice.close();
    }
    const boss = await session("boss");
    try {
      const made = await boss.execute(HOST, NODE("create-account"), { note: "from the admin's own client" });
      assert.equal(made.status, "completed");
      assert.equal(made.fields.get("source")?.[0], `adhoc/boss@${HOST}`);
      assert.equal((await boss.execute(HOST, NODE("list"))).status, "completed");
    } finally {
      await boss.close();
    }
  });

  it("an invite with a username registers that name only", async () => {
    const invite = await create("account", { username: "carol" });
    assert.equal(invite.jid, `carol@${HOST}`);
    await assert.rejects(register(invite.id, "mallory"), RegistrationError);
    await register(invite.id, "carol");
    await (await session("carol")).close();
    await assert.rejects(session("mallory"));
  });

  it("a revoked invite no longer registers, and Prosody's own page calls it invalid", async () => {
    const invite = await create("account", { note: "to revoke" });
    assert.ok(await inviteIsValid(invite.landing_page ?? "", prosody.httpPort));
    assert.equal((await call(`/invites/${invite.id}`, { method: "DELETE" })).status, 204);
    assert.equal(await inviteIsValid(invite.landing_page ?? "", prosody.httpPort), false);
    await assert.rejects(register(invite.id, "revoked"), RegistrationError);
    // Still shown, from the history, as revoked; no longer revocable.
    const shown = await call(`/invites/${invite.id}`);
    assert.equal(shown.status, 200);
    assert.equal(((await shown.json()) as { state: string }).state, "revoked");
    assert.equal((await call(`/invites/${invite.id}`, { method: "DELETE" })).status, 404);
  });

  it("a ttl is honoured: valid until it runs out, expired after, on both APIs", async () => {
    const invite = await create("account", { ttl: 2 });
    assert.equal(invite.expires - invite.created_at, 2);
    assert.ok(await inviteIsValid(invite.landing_page ?? "", prosody.httpPort));
    const legacy = await fetch(`${service.url}/invites_api?key=${keys[HOST]}&ttl=2`, {
      headers: { Accept: "application/json" },
    });
    assert.equal(legacy.status, 201);
    const legacyExpires = Date.parse(((await legacy.json()) as { expires: string }).expires);
    assert.ok(Math.abs(legacyExpires - Date.now()) <= 3_000, `expires ${legacyExpires}`);
    // Prosody counts an invite expired once its clock is past `expires` (whole seconds).
    await sleep(Math.max(0, (invite.expires + 1) * 1_000 - Date.now()) + 200);
    assert.equal(await inviteIsValid(invite.landing_page ?? "", prosody.httpPort), false);
    await assert.rejects(register(invite.id, "late"), RegistrationError);
  });

  it("a reusable group invite registers two accounts, both in the group", async () => {
    const invite = await create("group", { groups: ["team"], ttl: 600, note: "the team" });
    assert.equal(invite.reusable, true);
    assert.deepEqual(invite.groups, ["team"]);
    await register(invite.id, "dave");
    await register(invite.id, "erin");
    for (const [who, other] of [
      ["erin", "dave"],
      ["dave", "erin"],
    ] as const) {
      const client = await session(who);
      try {
        const item = (await client.roster()).find((entry) => entry.jid === `${other}@${HOST}`);
        assert.ok(item, `${other} in ${who}'s roster`);
        assert.equal(item.subscription, "both");
        assert.deepEqual(item.groups, ["Team"]);
      } finally {
        await client.close();
      }
    }
    assert.equal((await call(`/invites/${invite.id}`)).status, 200, "still pending after two uses");
  });

  it("roles: an invite's role is given at registration on 13; 0.12 says it lacks roles", async () => {
    if (!on13) {
      const res = await call("/invites/account", { json: { roles: ["prosody:admin"] } });
      assert.equal(res.status, 501);
      assert.match(((await res.json()) as { message: string }).message, /roles need Prosody 13/);
      return;
    }
    const invite = await create("account", { roles: ["prosody:admin"] });
    assert.deepEqual(invite.roles, ["prosody:admin"]);
    await register(invite.id, "frank");
    const frank = await session("frank");
    const carol = await session("carol");
    try {
      assert.ok((await frank.commands(HOST)).includes(DELETE_USER), "frank is an admin");
      assert.ok(!(await carol.commands(HOST)).includes(DELETE_USER), "carol, invited without a role, is not");
    } finally {
      await frank.close();
      await carol.close();
    }
    const unknown = await call("/invites/account", { json: { roles: ["no:such-role"] } });
    assert.equal(unknown.status, 400);
    // By default the component may not make admins: invites_manage_roles leaves prosody:admin out.
    const strict = await call("/invites/account", { json: { roles: ["prosody:admin"] }, host: STRICT });
    assert.equal(strict.status, 400);
    assert.match(((await strict.json()) as { message: string }).message, /invites_manage_roles/);
  });

  it("a password-reset invite sets a new password for that account only (0.12 too)", async () => {
    prosody.ctl(["register", "gina", HOST, "gina-old-password"]);
    const invite = await create("reset", { username: "gina" });
    assert.equal(invite.reset, true);
    await assert.rejects(register(invite.id, "alice", "stolen-password-1"), RegistrationError);
    await register(invite.id, "gina", "gina-new-password");
    await (await session("gina", "gina-new-password")).close();
    await assert.rejects(session("gina", "gina-old-password"));
  });

  it("Prosody's refusals are the client's errors: 400, 409, 404, with the reason", async () => {
    const cases: Array<[string, unknown, number, RegExp]> = [
      ["account", { ttl: 999_999_999 }, 400, /ttl must be a whole number of seconds from 1 to 2592000/],
      ["account", { groups: ["nope"] }, 400, /unknown group nope/],
      ["account", { username: "alice" }, 409, /./],
      ["reset", { username: "nobody" }, 404, /./],
    ];
    for (const [kind, json, status, message] of cases) {
      const res = await call(`/invites/${kind}`, { json });
      assert.equal(res.status, status, `${kind} ${JSON.stringify(json)}`);
      assert.match(((await res.json()) as { message: string }).message, message);
    }
  });

  it("GET /invites lists exactly the pending invites: not used, revoked or expired ones", async () => {
    prosody.ctl(["register", "hal", LISTED, "hal-password-1"]);
    const used = await create("account", {}, LISTED);
    const group = await create("group", { groups: ["team"] }, LISTED);
    const reset = await create("reset", { username: "hal" }, LISTED);
    const revoked = await create("account", { username: "ivy" }, LISTED);
    const expiring = await create("account", { ttl: 1 }, LISTED);
    const named = await create("account", { username: "jo", note: "for Jo" }, LISTED);
    await register(used.id, "kim", "kim-password-1", LISTED);
    assert.equal((await call(`/invites/${revoked.id}`, { method: "DELETE", host: LISTED })).status, 204);
    await sleep(Math.max(0, (expiring.expires + 1) * 1_000 - Date.now()) + 200);
    const res = await call("/invites", { host: LISTED });
    assert.equal(res.status, 200);
    const listed = (await res.json()) as InviteJson[];
    const ids = (invites: InviteJson[]) => invites.map((invite) => invite.id).sort();
    assert.deepEqual(ids(listed), ids([group, reset, named]));
    assert.deepEqual(
      listed.find((invite) => invite.id === named.id),
      named,
    );
    // A key of another host sees none of them.
    const other = (await (await call("/invites", { host: STRICT })).json()) as InviteJson[];
    assert.ok(!other.some((invite) => listed.some((mine) => mine.id === invite.id)));
  });

  it("/metrics counts the resource's requests by route pattern, never an id, and its invites by host", async () => {
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(
      metrics,
      /invites_api_http_requests_total\{route="\/invites\/account",method="POST",status="201"\} \d+/,
    );
    assert.match(metrics, /invites_api_http_requests_total\{route="\/invites\/:id",method="DELETE",status="204"\} \d+/);
    assert.match(metrics, /invites_api_http_requests_total\{route="\/invites",method="GET",status="200"\} \d+/);
    const issued = /invites_api_invites_issued_total\{host="list\.test"\} (\d+)/.exec(metrics);
    assert.equal(Number(issued?.[1]), 6, "the six invites made for list.test");
    assert.doesNotMatch(metrics, /route="\/invites\/[A-Za-z0-9_-]{16,}"/);
  });

  it("without the module: 501 naming what to load where, and /invites_api keeps working", async () => {
    const res = await call("/invites/account", { json: {}, host: PLAIN });
    assert.equal(res.status, 501);
    assert.match(
      ((await res.json()) as { message: string }).message,
      /"invites_manage" under VirtualHost "plain\.test"/,
    );
    assert.equal((await call("/invites", { host: PLAIN })).status, 501);
    const legacy = await fetch(`${service.url}/invites_api?key=${keys[PLAIN]}`, { redirect: "manual" });
    assert.equal(legacy.status, 201);
    assert.ok(await inviteIsValid(legacy.headers.get("location") ?? "", prosody.httpPort));
    assert.equal((await fetch(`${service.url}/invites_api?key=${keys[PLAIN]}&ttl=60`)).status, 501);
  });
});
