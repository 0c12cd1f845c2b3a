import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { MANAGE_MODULES } from "../support/prosody.js";
import { createKey, waitReady, withStack, type Stack } from "../support/stack.js";
import { login, registerWithInvite, RegistrationError } from "../support/xmppClient.js";
import type { InviteJson } from "../../src/http/invitesResource.js";

// A reset invite is the service's only while the account it resets stays under the ceiling
// (invites_manage_roles; on 0.12 the host's admins). The module checks that on every list, show
// and revoke, not only when the invite is made: an account promoted since would otherwise have a
// way to reset an admin's password waiting for any client with a manage key.
const HOST = "promote.test";
const COMPONENT = { domain: "invites.promote.test", secret: "promote-secret" };
const DELETE_USER = "http://jabber.org/protocol/admin#delete-user";
const on13 = process.env.PROSODY_VERSION === "13";

/**
 * Makes an account an admin of HOST as an operator does. 0.12: lists it in the host's `admins` and
 * restarts on the same data (a reload, SIGHUP, reads the file again but mod_authz_internal keeps
 * the admins it read when it loaded). 13: gives it the role in the running server through
 * `prosodyctl shell` (a config reload does not take either).
 */
async function promote({ prosody, service }: Stack, username: string): Promise<void> {
  if (on13) {
    assert.match(prosody.ctl(["shell", "user", "set_role", `${username}@${HOST}`, "prosody:admin"]), /prosody:admin/);
    return;
  }
  const config = readFileSync(prosody.configPath, "utf8");
  const admins = `admins = { "boss@${HOST}" }`;
  assert.ok(config.includes(admins), "the host's admins line");
  writeFileSync(prosody.configPath, config.replace(admins, `admins = { "boss@${HOST}", "${username}@${HOST}" }`));
  await prosody.kill();
  await prosody.start();
  await waitReady(service.url, 30_000);
}

describe("an account promoted after a reset invite for it was made", () => {
  it("the invite is no longer the service's to list, show or revoke, and resets nothing", async () => {
    await withStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: {
          [HOST]: {
            // 13's prosodyctl shell talks to the running server through mod_admin_socket.
            modules: [...MANAGE_MODULES, "admin_adhoc", ...(on13 ? ["admin_shell", "admin_socket"] : [])],
            admins: [`boss@${HOST}`],
          },
        },
        extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
      },
      { component: COMPONENT },
      async (stack) => {
        const { prosody, service, keyStore } = stack;
        const key = await createKey(keyStore, HOST, "manage", "--scope", "manage");
        const call = (path: string, method = "GET", json?: unknown) =>
          fetch(`${service.url}${path}`, {
            method,
            headers: {
              Authorization: `Bearer ${key}`,
              ...(json === undefined ? {} : { "Content-Type": "application/json" }),
            },
            ...(json === undefined ? {} : { body: JSON.stringify(json) }),
          });
        const listed = async () => ((await (await call("/invites?limit=200")).json()) as InviteJson[]).map((i) => i.id);
        const isAdmin = async (username: string) => {
          const client = await login({
            port: prosody.c2sPort,
            domain: HOST,
            username,
            password: `${username}-password-1`,
          });
          try {
            return (await client.commands(HOST)).includes(DELETE_USER);
          } finally {
            await client.close();
          }
        };
        const resetInvite = async (username: string) => {
          const res = await call("/invites/reset", "POST", { username });
          assert.equal(res.status, 201, username);
          return ((await res.json()) as InviteJson).id;
        };

        // ann is promoted below; bob, reset the same way, stays an ordinary account.
        prosody.ctl(["register", "ann", HOST, "ann-password-1"]);
        prosody.ctl(["register", "bob", HOST, "bob-password-1"]);
        const ann = await resetInvite("ann");
        const bob = await resetInvite("bob");
        assert.equal((await call(`/invites/${ann}`)).status, 200);
        assert.ok((await listed()).includes(ann), "listed while ann is ordinary");

        await promote(stack, "ann");
        assert.ok(await isAdmin("ann"), "Prosody now takes ann for an admin");

        assert.equal((await call(`/invites/${ann}`)).status, 404, "shown");
        assert.ok(!(await listed()).includes(ann), "listed");
        assert.equal((await call(`/invites/${ann}`, "DELETE")).status, 404, "revoked");
        await assert.rejects(
          registerWithInvite({
            port: prosody.c2sPort,
            domain: HOST,
            token: ann,
            username: "ann",
            password: "taken-over-1",
          }),
          RegistrationError,
        );
        assert.ok(await isAdmin("ann"), "ann's password is unchanged");
        // The rest of the service's invites are as they were.
        assert.equal((await call(`/invites/${bob}`)).status, 200);
        assert.ok((await listed()).includes(bob), "bob's invite is still listed");
        assert.equal((await call(`/invites/${bob}`, "DELETE")).status, 204);
      },
    );
  });
});
