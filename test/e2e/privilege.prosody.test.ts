import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { inviteIsValid } from "../support/invites.js";
import { probeCommand } from "../support/probe.js";
import { MANAGE_MODULES, type RunningProsody } from "../support/prosody.js";
import { rawRequest } from "../support/rawHttp.js";
import { runCli, type RunningService } from "../support/service.js";
import { createKey, startStack, waitReady, type RunningStack } from "../support/stack.js";
import { login, registerWithInvite, RegistrationError } from "../support/xmppClient.js";
import type { InviteJson } from "../../src/http/invitesResource.js";

// The attacks of issue 17, against a real Prosody where the component is no admin and the host has
// an admin (boss) and a name listed in `admins` that nobody registered yet (chief).
const HOST = "guard.test";
// The component in `admins` as well (the middle of a move from drop-in): it must gain nothing.
const MIXED = "mixed.guard.test";
const COMPONENT = { domain: "invites.guard.test", secret: "guard-secret" };
const PROBE = { domain: "probe.guard.test", secret: "probe-secret" };
const NODE = (name: string) => `xmpp:invites-api/mod_invites_manage#${name}`;
const DELETE_USER = "http://jabber.org/protocol/admin#delete-user";
const on13 = process.env.PROSODY_VERSION === "13";

describe("no key gains more than its scope; no request takes the component down", () => {
  let prosody: RunningProsody;
  let service: RunningService;
  let stack: RunningStack | undefined;
  let keyStore: string;
  const keys: Record<string, string> = {};

  before(async () => {
    stack = await startStack(
      {
        hosts: [HOST, MIXED],
        components: [COMPONENT, PROBE],
        admins: [],
        hostOptions: {
          [HOST]: { modules: [...MANAGE_MODULES, "admin_adhoc"], admins: [`boss@${HOST}`, `chief@${HOST}`] },
          [MIXED]: { modules: MANAGE_MODULES, admins: [`boss@${MIXED}`, COMPONENT.domain] },
        },
        extra: [
          `invites_manage_jids = { "${COMPONENT.domain}", "${PROBE.domain}" }`,
          `invites_manage_groups = { team = "Team" }`,
        ].join("\n"),
      },
      { component: COMPONENT, env: { MANAGE_RATE: "1000/1m" } },
    );
    ({ prosody, service, keyStore } = stack);
    keys.create = await createKey(keyStore, HOST, "create");
    keys.getOnly = await createKey(keyStore, HOST, "get only", "--methods", "GET");
    keys.reset = await createKey(keyStore, HOST, "resets", "--scope", "reset");
    keys.manage = await createKey(keyStore, HOST, "manage", "--scope", "manage");
    keys.quota = await createKey(keyStore, HOST, "one invite", "--max-invites", "1");
    keys.mixed = await createKey(keyStore, MIXED, "mixed", "--scope", "manage");
    prosody.ctl(["register", "boss", MIXED, "boss-password-1"]);
    prosody.ctl(["register", "boss", HOST, "boss-password-1"]);
    prosody.ctl(["register", "paul", HOST, "paul-password-1"]);
  });
  after(() => stack?.stop());

  const call = (key: string, path: string, json?: unknown, method = json === undefined ? "GET" : "POST") =>
    fetch(`${service.url}${path}`, {
      method,
      redirect: "manual",
      headers: {
        Authorization: `Bearer ${keys[key]}`,
        Accept: "application/json",
        ...(json === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
  const errorOf = async (res: Response) => ((await res.json()) as { error: string; message: string }).error;
  const register = (token: string, username: string, password = `${username}-password-1`) =>
    registerWithInvite({ port: prosody.c2sPort, domain: HOST, token, username, password });
  const session = (username: string, password = `${username}-password-1`) =>
    login({ port: prosody.c2sPort, domain: HOST, username, password });
  const componentOnline = async () => {
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    return /^invites_api_xmpp_connected 1$/m.test(metrics);
  };
  const connects = () => service.lines.filter((line) => line.msg === "connected to Prosody").length;

  it("no admin takeover: a create key (GET-only too) makes no reset; no key resets an admin", async () => {
    for (const key of ["create", "getOnly"]) {
      const resource = await call(key, "/invites/reset", { username: "boss" });
      assert.equal(resource.status, 403, key);
      assert.equal(await errorOf(resource), "insufficient_scope");
      const legacy = await call(key, "/invites_api?type=reset&username=boss", undefined, "POST");
      assert.equal(legacy.status, key === "getOnly" ? 405 : 403, key);
    }
    for (const key of ["reset", "manage"]) {
      const resource = await call(key, "/invites/reset", { username: "boss" });
      assert.equal(resource.status, 403, key);
      assert.equal(await errorOf(resource), "account_protected");
      const legacy = await call(key, "/invites_api?type=reset&username=boss", undefined, "POST");
      assert.equal(legacy.status, 403, key);
      assert.equal(await errorOf(legacy), "account_protected");
    }
    // The same from the component's own JID, straight to the module.
    const probe = await asProbe(NODE("create-reset"), { username: "boss" });
    assert.equal(probe.condition, "not-allowed");
    // An ordinary account may be reset by a reset key, and the link works.
    const paul = await call("reset", "/invites/reset", { username: "paul" });
    assert.equal(paul.status, 201);
    const invite = (await paul.json()) as InviteJson;
    await register(invite.id, "paul", "paul-new-password");
    await (await session("paul", "paul-new-password")).close();
    const boss = await session("boss");
    try {
      assert.ok((await boss.commands(HOST)).includes(DELETE_USER), "boss is still the admin, password unchanged");
    } finally {
      await boss.close();
    }
  });

  it("a component that is also in admins gets no more: no reset of an admin there either", async () => {
    const res = await call("mixed", "/invites/reset", { username: "boss" });
    assert.equal(res.status, 403);
    assert.equal(await errorOf(res), "account_protected");
    const legacy = await call("mixed", "/invites_api?type=reset&username=boss", undefined, "POST");
    assert.equal(legacy.status, 403);
  });

  it("a name listed in admins but not registered is never handed out", async () => {
    const reserved = await call("manage", "/invites/account", { username: "chief" });
    assert.equal(reserved.status, 403);
    assert.equal(await errorOf(reserved), "account_protected");
    // A plain invite does not let its holder pick that name either.
    const plain = (await (await call("create", "/invites/account", {})).json()) as InviteJson;
    await assert.rejects(register(plain.id, "chief"), RegistrationError);
    await register(plain.id, "quinn");
  });

  it("every value XML forbids is a 400 naming the field; the component stays connected", async () => {
    const before = connects();
    const cases: Array<[string, string, unknown, string]> = [
      ["manage", "/invites/account", { note: "a\uFFFFb" }, "note"],
      ["manage", "/invites/account", { username: "x\uFFFE" }, "username"],
      ["manage", "/invites/group", { groups: ["team", "\uFFFF"] }, "groups"],
      ["manage", "/invites/account", { roles: ["\uFFFE"] }, "roles"],
      ["manage", "/invites/reset", { username: "\uD800" }, "username"],
    ];
    for (const [key, path, json, field] of cases) {
      const res = await call(key, path, json);
      assert.equal(res.status, 400, `${path} ${JSON.stringify(json)}`);
      const body = (await res.json()) as { message: string };
      assert.match(body.message, new RegExp(`^${field}(\\.\\d+)?: `), body.message);
    }
    const legacy = await call("reset", "/invites_api?type=reset&username=%EF%BF%BF", undefined, "POST");
    assert.equal(legacy.status, 400);
    assert.match(((await legacy.json()) as { message: string }).message, /^username: /);
    const account = await call("manage", "/accounts/%EF%BF%BF/invite");
    assert.equal(account.status, 400);
    assert.match(((await account.json()) as { message: string }).message, /^username: U\+FFFF /);
    assert.ok(await componentOnline());
    assert.equal(connects(), before, "no reconnection");
    const after = await call("create", "/invites_api", undefined, "POST");
    assert.equal(after.status, 201, "a bystander's invite still comes");
  });

  it("--max-invites bounds accounts: no reusable invite from such a key, none from a create key", async () => {
    for (const key of ["quota", "create", "getOnly"]) {
      const res = await call(key, "/invites/group", { groups: ["team"], ttl: 2_592_000 });
      assert.equal(res.status, 403, key);
      assert.equal(await errorOf(res), "insufficient_scope");
    }
    const refused = await runCli(["create", HOST, "x", "--scope", "group", "--max-invites", "1"], {
      KEY_STORE: keyStore,
    });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--max-invites cannot bound a key that makes reusable invites/);
    assert.equal((await call("quota", "/invites/account", {})).status, 201);
    assert.equal(await errorOf(await call("quota", "/invites/account", {})), "key_exhausted");
  });

  it("group lists are deduplicated and capped, through the API and straight to the module", async () => {
    const res = await call("manage", "/invites/group", { groups: Array(32).fill("team") });
    assert.equal(res.status, 201);
    assert.deepEqual(((await res.json()) as InviteJson).groups, ["team"]);
    const tooMany = await call("manage", "/invites/group", {
      groups: Array.from({ length: 33 }, (_, i) => `g${i}`),
    });
    assert.equal(tooMany.status, 400);
    const copies = await asProbe(NODE("create-group"), { groups: Array(1000).fill("team"), ttl: "60" });
    assert.equal(copies.status, "completed");
    assert.deepEqual(copies.fields.get("groups"), ["team"]);
    const distinct = await asProbe(NODE("create-group"), { groups: Array.from({ length: 33 }, (_, i) => `g${i}`) });
    assert.equal(distinct.condition, "bad-request");
    assert.match(distinct.text ?? "", /at most 32 groups/);
  });

  it("invites an admin made from his own client are not the service's to see, show or revoke", async () => {
    const boss = await session("boss");
    const made: string[] = [];
    let landing = "";
    try {
      const own = await boss.execute(HOST, NODE("create-account"), on13 ? { roles: "prosody:admin" } : {});
      assert.equal(own.status, "completed");
      made.push(own.fields.get("id")?.[0] ?? "");
      landing = own.fields.get("landing-url")?.[0] ?? "";
      const reset = await boss.execute(HOST, NODE("create-reset"), { username: "boss" });
      made.push(reset.fields.get("id")?.[0] ?? "");
    } finally {
      await boss.close();
    }
    const listed = (await (await call("manage", "/invites?limit=200")).json()) as InviteJson[];
    for (const id of made) {
      assert.ok(id, "the admin got an invite");
      assert.ok(!listed.some((invite) => invite.id === id), "not listed");
      assert.equal((await call("manage", `/invites/${id}`)).status, 404);
      assert.equal((await call("manage", `/invites/${id}`, undefined, "DELETE")).status, 404);
    }
    // Still valid: the service neither saw nor revoked them.
    assert.ok(await inviteIsValid(landing, prosody.httpPort), "the admin's invite is still valid");
  });

  it("GET /invites is paged: at most `limit` a page, a Link to the next, every invite once", async () => {
    const made = new Set<string>();
    for (let i = 0; i < 23; i += 1)
      made.add(((await (await call("manage", "/invites/account", {})).json()) as InviteJson).id);
    const seen: string[] = [];
    let next: string | undefined = "/invites?limit=10";
    let pages = 0;
    while (next) {
      const res = await call("manage", next);
      assert.equal(res.status, 200);
      const page = (await res.json()) as InviteJson[];
      assert.ok(page.length <= 10);
      seen.push(...page.map((invite) => invite.id));
      next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get("link") ?? "")?.[1];
      pages += 1;
    }
    assert.equal(new Set(seen).size, seen.length, "no invite twice");
    for (const id of made) assert.ok(seen.includes(id), "every invite once");
    assert.ok(pages >= 3);
    const all = (await (await call("manage", "/invites")).json()) as InviteJson[];
    assert.ok(all.length <= 50, "the default page is 50");
    // Once listed, the module keeps its own index: later changes show on the next walk.
    const [revoked, used] = [...made];
    assert.equal((await call("manage", `/invites/${revoked}`, undefined, "DELETE")).status, 204);
    await register(used ?? "", "uma");
    const fresh = ((await (await call("manage", "/invites/account", {})).json()) as InviteJson).id;
    const again: string[] = [];
    for (let next: string | undefined = "/invites?limit=7"; next;) {
      const res = await call("manage", next);
      again.push(...((await res.json()) as InviteJson[]).map((invite) => invite.id));
      next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get("link") ?? "")?.[1];
    }
    assert.ok(again.includes(fresh), "an invite made after the first list is listed");
    assert.ok(!again.includes(revoked ?? ""), "a revoked one is not");
    assert.ok(!again.includes(used ?? ""), "a used one is not");
    assert.equal(again.length, new Set(again).size);
    for (const query of ["limit=201", "limit=0", "after=nope", "limit=5&limit=6"]) {
      assert.equal((await call("manage", `/invites?${query}`)).status, 400, query);
    }
  });

  it("a deleted member leaves the group: a newcomer with the freed name is not put in it", async () => {
    const group = (await (await call("manage", "/invites/group", { groups: ["team"], ttl: 600 })).json()) as InviteJson;
    await register(group.id, "rita");
    await register(group.id, "sam");
    // 0.12: prosodyctl deletes the account in a process of its own, where no hook of the module
    // runs; 13: through the admin's client (its prosodyctl asks the running server).
    if (on13) {
      const boss = await session("boss");
      try {
        const deleted = await boss.execute(HOST, DELETE_USER, { accountjids: `rita@${HOST}` });
        assert.equal(deleted.status, "completed");
      } finally {
        await boss.close();
      }
    } else prosody.ctl(["deluser", `rita@${HOST}`]);
    const plain = (await (await call("create", "/invites/account", {})).json()) as InviteJson;
    await register(plain.id, "rita", "rita-new-password");
    await register(group.id, "tom");
    for (const [who, password] of [
      ["tom", "tom-password-1"],
      ["rita", "rita-new-password"],
    ] as const) {
      const client = await session(who, password);
      try {
        const roster = await client.roster();
        const other = who === "tom" ? "rita" : "tom";
        assert.ok(!roster.some((item) => item.jid === `${other}@${HOST}`), `${other} not in ${who}'s roster`);
      } finally {
        await client.close();
      }
    }
    const tom = await session("tom");
    try {
      assert.ok(
        (await tom.roster()).some((item) => item.jid === `sam@${HOST}`),
        "sam, still a member, is",
      );
    } finally {
      await tom.close();
    }
  });

  it("preflight of DELETE allows it; a reset's audit line names the account", async () => {
    const res = await fetch(`${service.url}/invites/AbCdEf`, {
      method: "OPTIONS",
      headers: { Origin: "https://admin.example", "Access-Control-Request-Method": "DELETE" },
    });
    assert.match(res.headers.get("access-control-allow-methods") ?? "", /\bDELETE\b/);
    const audit = service.lines.find((line) => line.audit === "invite" && line.type === "reset");
    assert.equal(audit?.account, `paul@${HOST}`);
  });

  it("tokens stay out of the log: a 5xx on /invites/{id}, an absolute-form target", async () => {
    const invite = (await (await call("manage", "/invites/account", {})).json()) as InviteJson;
    const port = new URL(service.url).port;
    const absolute = `GET http://${HOST}/invites/${invite.id} HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: Bearer ${keys.manage}\r\nConnection: close\r\n\r\n`;
    assert.equal(await rawRequest(Number(port), Buffer.from(absolute)), 200);
    // Frozen until the service has answered (its own INVITE_TIMEOUT_MS, 10 s): thawed earlier, on a
    // loaded machine, Prosody could still answer the command and there would be no 5xx to log.
    prosody.signal("SIGSTOP");
    let status: number;
    try {
      status = (
        await fetch(`${service.url}/invites/${invite.id}`, {
          headers: { Authorization: `Bearer ${keys.manage}` },
          signal: AbortSignal.timeout(60_000),
        })
      ).status;
    } finally {
      prosody.signal("SIGCONT");
    }
    assert.equal(status, 504, "Prosody frozen: the service's own timeout answers");
    await waitReady(service.url, 30_000);
    // The log line reaches this process through a pipe: wait for it rather than look once.
    await service.waitForLog((line) => line.msg === "request failed");
    assert.equal(service.output().includes(invite.id), false, "the token is in no log line");
  });

  const asProbe = (node: string, fields: Record<string, string | string[]>) =>
    probeCommand(prosody.componentPort, PROBE, HOST, node, fields);
});
