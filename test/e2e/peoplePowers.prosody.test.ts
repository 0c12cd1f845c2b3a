import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parsePeoplePolicy } from "../../src/people/policy.js";
import type { InviteJson } from "../../src/http/invitesResource.js";
import type { RunningProsody } from "../support/prosody.js";
import {
  CIRCLES_COMPONENT as COMPONENT,
  CIRCLES_HOST as HOST,
  callAs,
  startCirclesProsody,
  startPeopleApp,
  type CallAs,
  type PeopleApp,
} from "../support/peopleApp.js";
import { freshKeyStore } from "../support/stack.js";
import { registerWithInvite } from "../support/xmppClient.js";

// Issue 29, part E, against a real Prosody: what each kind of caller may do (keys by scope, keys
// confined with --groups, persons by role and circles), with the exact status of every cell.
const on13 = process.env.PROSODY_VERSION === "13";

const PERSONS = {
  admin: `ada@${HOST}`,
  member: `mel@${HOST}`,
  manager: `max@${HOST}`,
  guest: `gus@${HOST}`,
};
const ROLES: Record<string, string> = {
  [PERSONS.admin]: "prosody:admin",
  [PERSONS.member]: "prosody:registered",
  [PERSONS.manager]: "prosody:registered",
  [PERSONS.guest]: "prosody:guest",
};

/**
 * The table, with persons through the fake session (their roles as given), or through the
 * service's own session gate with their roles from the real Prosody: ada a host admin, mel and max
 * ordinary accounts, gus no account at all (the gate ends such a session: 401 not_signed_in).
 */
function matrix(viaSessions: boolean): void {
  describe(`roles × actions${viaSessions ? ", persons through the session gate and Prosody's roles" : ""}: every principal gets exactly its cell, 0 escalations`, () => {
    let prosody: RunningProsody;
    let app: PeopleApp;
    const secrets: Record<string, string> = {};
    let call: CallAs;
    // Accounts registered through a foreign invite (no groups) and through a team-a one.
    const accounts = { foreign: "joe", team: "tia" };

    before(async () => {
      prosody = viaSessions
        ? await startCirclesProsody({ admins: [PERSONS.admin], accounts: ["ada", "mel", "max"] })
        : await startCirclesProsody();
      app = await startPeopleApp({
        prosody,
        component: COMPONENT,
        keyStore: freshKeyStore(),
        // The default's roles, with a quota the table's creations stay within (quotas have their own test).
        policy: parsePeoplePolicy(
          JSON.stringify({
            "*": {
              roles: {
                "prosody:operator": { scopes: ["manage"] },
                "prosody:admin": { scopes: ["manage"] },
                "prosody:member": { scopes: ["create"], quota: "50/7d" },
                "prosody:registered": { scopes: ["create"], quota: "50/7d" },
              },
              managers: { [PERSONS.manager]: ["team-a"] },
            },
          }),
        ),
        roles: ROLES,
        sessions: viaSessions,
      });
      const make = async (name: string, options: Parameters<PeopleApp["keys"]["create"]>[1]) => {
        secrets[name] = (await app.keys.create(HOST, options)).key;
      };
      await make("create", { scopes: ["create"] });
      await make("group", { scopes: ["group"] });
      await make("manage", { scopes: ["manage"] });
      await make("create-a", { scopes: ["create"], groups: ["team-a"] });
      await make("manage-a", { scopes: ["manage"], groups: ["team-a"] });
      call = callAs(app, secrets);
      for (const [username, groups] of [
        [accounts.foreign, undefined],
        [accounts.team, ["team-a"]],
      ] as const) {
        const invite = await inviteBy("manage", groups ? { groups } : {});
        await registerWithInvite({
          port: prosody.c2sPort,
          domain: HOST,
          token: invite.id,
          username,
          password: `${username}-password-1`,
        });
      }
    });
    after(async () => {
      await app?.stop();
      await prosody?.dispose();
    });

    async function inviteBy(who: string, body: object): Promise<InviteJson> {
      const res = await call(who, "POST", "/invites/account", body);
      assert.equal(res.status, 201, `${who} makes an invite: ${await res.clone().text()}`);
      return (await res.json()) as InviteJson;
    }

    const roles = on13 ? 201 : 501;
    const PRINCIPALS = [
      "create",
      "group",
      "manage",
      "create-a",
      "manage-a",
      PERSONS.admin,
      PERSONS.member,
      PERSONS.manager,
      PERSONS.guest,
    ];
    // The status each principal gets for each action, in PRINCIPALS' order.
    const EXPECTED: Record<string, number[]> = {
      account: [201, 403, 201, 201, 201, 201, 201, 201, 403],
      "account into team-b": [201, 403, 201, 400, 400, 201, 403, 400, 403],
      "group into team-a": [403, 201, 201, 403, 201, 201, 403, 201, 403],
      reset: [403, 403, 201, 403, 403, 201, 403, 403, 403],
      "account with roles": [roles, 403, roles, roles, roles, roles, 403, 403, 403],
      list: [403, 403, 200, 403, 200, 200, 200, 200, 403],
      "show foreign": [403, 403, 200, 403, 404, 200, 404, 404, 403],
      "show team-a": [403, 403, 200, 403, 200, 200, 404, 200, 403],
      "show own": [403, 403, 200, 403, 200, 200, 200, 200, 403],
      "revoke foreign": [403, 403, 204, 403, 404, 204, 404, 404, 403],
      "revoke team-a": [403, 403, 204, 403, 204, 204, 404, 204, 403],
      "revoke own": [403, 403, 204, 403, 204, 204, 204, 204, 403],
      "update foreign": [403, 403, 200, 403, 404, 200, 403, 404, 403],
      "update team-a": [403, 403, 200, 403, 200, 200, 403, 200, 403],
      budget: [403, 403, 200, 403, 403, 200, 403, 403, 403],
      batch: [201, 403, 201, 201, 201, 201, 201, 201, 403],
      "accounts-invite foreign": [403, 403, 200, 403, 404, 200, 404, 404, 403],
      "accounts-invite team-a": [403, 403, 200, 403, 200, 200, 404, 200, 403],
    };

    // Each action, for one principal; `own` is an invite that principal made (when it may make one).
    const ACTIONS: Record<string, (who: string) => Promise<Response>> = {
      account: (who) => call(who, "POST", "/invites/account", {}),
      "account into team-b": (who) => call(who, "POST", "/invites/account", { groups: ["team-b"] }),
      "group into team-a": (who) => call(who, "POST", "/invites/group", { groups: ["team-a"] }),
      reset: (who) => call(who, "POST", "/invites/reset", { username: "paul" }),
      "account with roles": (who) => call(who, "POST", "/invites/account", { roles: ["prosody:registered"] }),
      list: (who) => call(who, "GET", "/invites?limit=200"),
      "show foreign": async (who) => call(who, "GET", `/invites/${(await inviteBy("manage", {})).id}`),
      "show team-a": async (who) => call(who, "GET", `/invites/${(await inviteBy("manage-a", {})).id}`),
      "show own": async (who) => call(who, "GET", `/invites/${(await ownInvite(who)).id}`),
      "revoke foreign": async (who) => call(who, "DELETE", `/invites/${(await inviteBy("manage", {})).id}`),
      "revoke team-a": async (who) => call(who, "DELETE", `/invites/${(await inviteBy("manage-a", {})).id}`),
      "revoke own": async (who) => call(who, "DELETE", `/invites/${(await ownInvite(who)).id}`),
      "update foreign": async (who) =>
        call(who, "PATCH", `/invites/${(await inviteBy("manage", {})).id}`, { note: `by ${who}` }),
      "update team-a": async (who) =>
        call(who, "PATCH", `/invites/${(await inviteBy("manage-a", {})).id}`, { note: `by ${who}` }),
      budget: (who) => call(who, "GET", "/budget"),
      batch: (who) => call(who, "POST", "/invites/batch", { invites: [{ kind: "account" }] }),
      "accounts-invite foreign": (who) => call(who, "GET", `/accounts/${accounts.foreign}@${HOST}/invite`),
      "accounts-invite team-a": (who) => call(who, "GET", `/accounts/${accounts.team}@${HOST}/invite`),
    };

    // An invite the principal made itself; one who may make none gets one of the manage key's
    // (what it may do with it is then the foreign cell's answer, as the table says).
    async function ownInvite(who: string): Promise<InviteJson> {
      const res = await call(who, "POST", "/invites/account", {});
      if (res.status === 201) return (await res.json()) as InviteJson;
      return inviteBy("manage", {});
    }

    it("each principal × each action: the status in the table", async () => {
      const wrong: string[] = [];
      let escalations = 0;
      for (const [action, statuses] of Object.entries(EXPECTED)) {
        for (const [i, who] of PRINCIPALS.entries()) {
          const expected = viaSessions && who === PERSONS.guest ? 401 : statuses[i];
          const res = await (ACTIONS[action] as (w: string) => Promise<Response>)(who);
          const body = await res.text();
          if (res.status !== expected) {
            // The error's code, never a body that holds an invite's token.
            const code = res.status >= 400 ? body.slice(0, 160) : "(made or shown)";
            wrong.push(`${action} by ${who}: ${res.status} (expected ${expected}) ${code}`);
            if (res.status < 300 && (expected ?? 0) >= 300) escalations += 1;
          }
          if (action === "list" && res.status === 200) checkListed(who, JSON.parse(body) as InviteJson[], wrong);
        }
      }
      assert.deepEqual(wrong, [], `${wrong.length} cells wrong, ${escalations} escalations`);
    });

    // What a listing may hold: a confined caller only team-a's invites; a member only their own.
    function checkListed(who: string, invites: readonly InviteJson[], wrong: string[]): void {
      for (const invite of invites) {
        const confined = who === "manage-a" || who === PERSONS.manager;
        if (confined && !(invite.groups.length > 0 && invite.groups.every((g) => g === "team-a"))) {
          wrong.push(
            `list by ${who} shows ${invite.created_by ?? "?"}'s invite in ${invite.groups.join(",") || "no group"}`,
          );
        }
        if (who === PERSONS.member && invite.created_by !== who) {
          wrong.push(`list by ${who} shows ${invite.created_by ?? "?"}'s invite`);
        }
      }
    }

    it("a confined caller's plain invite goes into its one circle; created_by names the key or person", async () => {
      const byKey = await inviteBy("create-a", {});
      assert.deepEqual(byKey.groups, ["team-a"]);
      assert.equal(byKey.created_by, `key:${secrets["create-a"]?.split("/")[0] ?? ""}`);
      const byPerson = await inviteBy(PERSONS.manager, {});
      assert.deepEqual(byPerson.groups, ["team-a"]);
      assert.equal(byPerson.created_by, PERSONS.manager);
      assert.equal(byPerson.source, `invites-api/${PERSONS.manager}`);
    });
  });
}

matrix(false);
matrix(true);
