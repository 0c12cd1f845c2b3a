import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadServiceConfig } from "../../src/config.js";
import { AppError } from "../../src/errors.js";
import { inviteAuthor, revocationAuthor } from "../../src/people/authors.js";
import { personCaller } from "../../src/people/caller.js";
import { groupsFor, reachFor, withinReach, type Caller } from "../../src/people/confinement.js";
import { grantFor, parsePeoplePolicy, PolicyError } from "../../src/people/policy.js";
import type { KeyInfo } from "../../src/keys/keyRecord.js";

const HOST = "example.com";
const session = { jid: `alice@${HOST}`, host: HOST, createdAt: 0, hash: "h" };
const facts = (role: string) => ({ exists: true, enabled: true, role });
const key = (extra: Partial<KeyInfo> = {}): KeyInfo => ({
  id: "K1",
  host: HOST,
  name: "",
  createdAt: "",
  methods: ["GET", "POST"],
  scopes: ["manage"],
  invitesIssued: 0,
  accountsRegistered: 0,
  ...extra,
});

describe("PEOPLE_POWERS: each role's powers per host", () => {
  it("by default: admins and operators manage; members and registered create, 5 per 7 days; guests nothing", () => {
    const policy = parsePeoplePolicy(undefined);
    for (const role of ["prosody:admin", "prosody:operator"]) {
      assert.deepEqual(grantFor(policy, HOST, role, session.jid), { scopes: ["manage"] });
    }
    for (const role of ["prosody:member", "prosody:registered"]) {
      assert.deepEqual(grantFor(policy, "any.test", role, session.jid), {
        scopes: ["create"],
        quota: { points: 5, durationSeconds: 7 * 86_400 },
      });
    }
    for (const role of ["prosody:guest", "custom", "constructor", "__proto__"]) {
      assert.deepEqual(grantFor(policy, HOST, role, session.jid), { scopes: [] });
    }
  });

  it("a host's roles replace the default; managers of * and of the host both count", () => {
    const policy = parsePeoplePolicy(
      JSON.stringify({
        "*": { managers: { "Bob@Example.com": ["team-b"] } },
        [HOST]: { roles: { "prosody:member": { scopes: ["create", "group"], quota: "2/1d" } }, managers: {} },
      }),
    );
    assert.deepEqual(grantFor(policy, HOST, "prosody:member", session.jid), {
      scopes: ["create", "group"],
      quota: { points: 2, durationSeconds: 86_400 },
    });
    assert.deepEqual(grantFor(policy, HOST, "prosody:admin", session.jid), { scopes: [] });
    assert.deepEqual(grantFor(policy, HOST, "prosody:guest", `bob@${HOST}`).circles, ["team-b"]);
    assert.deepEqual(grantFor(policy, "other.test", "prosody:admin", session.jid), { scopes: ["manage"] });
  });

  it("a bad setting names PEOPLE_POWERS and where: the service does not start", () => {
    assert.throws(
      () => parsePeoplePolicy("{"),
      (err: Error) => err instanceof PolicyError && /PEOPLE_POWERS/.test(err.message),
    );
    assert.throws(
      () => parsePeoplePolicy(JSON.stringify({ "*": { roles: { r: { scopes: ["admin"] } } } })),
      /PEOPLE_POWERS\.\*\.roles\.r\.scopes\.0/,
    );
    assert.throws(
      () => parsePeoplePolicy(JSON.stringify({ "*": { roles: { r: { scopes: [], quota: "5" } } } })),
      /quota/,
    );
    assert.throws(() => parsePeoplePolicy(JSON.stringify({ "*": { managers: { bob: ["a"] } } })), /bare JID/);
    const env = {
      COMPONENT_SERVICE: "xmpp://127.0.0.1:5347",
      COMPONENT_DOMAIN: "invites.example.com",
      COMPONENT_SECRET: "s",
      PEOPLE_POWERS: '{"*": {"roles": 3}}',
    };
    assert.throws(
      () => loadServiceConfig(env),
      (err: Error) => err instanceof ConfigError && /PEOPLE_POWERS/.test(err.message),
    );
  });
});

describe("personCaller: what a signed-in person may do", () => {
  const policy = parsePeoplePolicy(JSON.stringify({ "*": { managers: { [`alice@${HOST}`]: ["team-a", "team-b"] } } }));
  const plain = parsePeoplePolicy(undefined);

  it("a member: account invites within the quota, and their own invites only", () => {
    const caller = personCaller(facts("prosody:registered"), session, plain);
    assert.deepEqual(caller?.apiKey.powers, ["account"]);
    assert.equal(caller?.apiKey.id, session.jid);
    assert.equal(caller?.person.ownOnly, true);
    assert.deepEqual(caller?.person.quota, { points: 5, durationSeconds: 7 * 86_400 });
  });

  it("a member who manages circles: account and group invites, list, revoke, update, within them", () => {
    const caller = personCaller(facts("prosody:registered"), session, policy);
    assert.deepEqual(caller?.apiKey.powers, ["account", "group", "list", "revoke", "update"]);
    assert.deepEqual(caller?.apiKey.groups, ["team-a", "team-b"]);
    assert.equal(caller?.person.ownOnly, false);
  });

  it("an admin named manager too is not confined; a guest or a gone account is no caller", () => {
    const admin = personCaller(facts("prosody:admin"), session, policy);
    assert.equal(admin?.apiKey.groups, undefined);
    assert.equal(admin?.apiKey.powers?.length, 7);
    assert.equal(personCaller(facts("prosody:guest"), session, plain), undefined);
    assert.ok(personCaller(facts("prosody:guest"), session, policy), "a guest who manages circles");
    assert.equal(personCaller({ ...facts("prosody:admin"), enabled: false }, session, plain), undefined);
    assert.equal(personCaller({ ...facts("prosody:admin"), exists: false }, session, plain), undefined);
  });
});

describe("confinement: circles and own invites", () => {
  const confined: Caller = { apiKey: key({ groups: ["team-a", "team-b"] }) };
  const one: Caller = { apiKey: key({ groups: ["team-a"] }) };
  const bad = (code: string) => (err: unknown) => err instanceof AppError && err.code === code;

  it("creates only into circles: one circle is the default, more must be named", () => {
    assert.deepEqual(groupsFor(one, "account", undefined), ["team-a"]);
    assert.deepEqual(groupsFor(confined, "group", ["team-b"]), ["team-b"]);
    assert.throws(() => groupsFor(confined, "account", undefined), /team-a, team-b/);
    assert.throws(() => groupsFor(confined, "group", ["team-a", "team-c"]), bad("bad_request"));
    assert.throws(() => groupsFor(confined, "reset", undefined), bad("insufficient_scope"));
    assert.equal(groupsFor({ apiKey: key() }, "account", undefined), undefined);
  });

  it("sees only invites whose groups are non-empty and within the circles", () => {
    const reach = reachFor(confined, "list");
    assert.equal(withinReach(reach, { groups: ["team-a"] }), true);
    assert.equal(withinReach(reach, { groups: ["team-a", "team-b"] }), true);
    assert.equal(withinReach(reach, { groups: ["team-a", "team-c"] }), false);
    assert.equal(withinReach(reach, { groups: [] }), false);
  });

  it("an own-only person sees only what their JID made, and updates nothing", () => {
    const member = personCaller(facts("prosody:registered"), session, parsePeoplePolicy(undefined));
    assert.ok(member);
    const reach = reachFor(member, "revoke");
    assert.equal(withinReach(reach, { groups: [], source: `invites-api/${session.jid}` }), true);
    assert.equal(withinReach(reach, { groups: [], source: `invites-api/bob@${HOST}` }), false);
    assert.equal(withinReach(reach, { groups: [], source: "invites-api/K1" }), false);
    assert.throws(() => reachFor(member, "update"), bad("insufficient_scope"));
  });

  it("authors: a person's JID, key:ID, the inviter, an admin's JID, or null", () => {
    assert.equal(inviteAuthor({ source: `invites-api/${session.jid}` }, HOST), session.jid);
    assert.equal(inviteAuthor({ source: "invites-api/K1" }, HOST), "key:K1");
    assert.equal(inviteAuthor({ inviter: "carol" }, HOST), `carol@${HOST}`);
    assert.equal(inviteAuthor({ source: `adhoc/root@${HOST}` }, HOST), `root@${HOST}`);
    assert.equal(inviteAuthor({}, HOST), null);
  });

  it("revoked_by: the person or key that asked the service, else the JID that ran the command; null if unknown", () => {
    assert.equal(revocationAuthor({ revokedBy: `invites-api/${session.jid}` }), session.jid);
    assert.equal(revocationAuthor({ revokedBy: "invites-api/K1" }), "key:K1");
    assert.equal(revocationAuthor({ revokedBy: `root@${HOST}` }), `root@${HOST}`);
    assert.equal(revocationAuthor({}), null);
  });
});
