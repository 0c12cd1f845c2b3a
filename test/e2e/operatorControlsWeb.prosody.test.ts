import assert from "node:assert/strict";
import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ComponentConnection } from "../../src/xmpp/connection.js";
import { recordSecret } from "../support/handedOut.js";
import { connectModuleClients } from "../support/moduleClients.js";
import { chownTree, createProsody, MANAGE_MODULES, prosodyUser, type RunningProsody } from "../support/prosody.js";
import { accountExists, registerOnWeb, webRegistrationModules } from "../support/webRegister.js";

// The host's pause and registration budget (issue 30) on Prosody's own web form
// (mod_invites_register_web), which fires the same user-registering as in-band registration.
const HOST = "web-ops.test";
const COMPONENT = { domain: "invites.web-ops.test", secret: "web-ops-component-secret" };
const ACTOR = "invites-api/test-key";

describe("the pause and the budget on Prosody's own web registration form", () => {
  let prosody: RunningProsody | undefined;
  let connection: ComponentConnection | undefined;
  let clients: Omit<Awaited<ReturnType<typeof connectModuleClients>>, "connection">;

  before(async () => {
    prosody = await createProsody({
      hosts: [HOST],
      components: [COMPONENT],
      admins: [],
      hostOptions: { [HOST]: { modules: [...MANAGE_MODULES, "invites_register_web"] } },
      extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
    });
    const owner = prosodyUser();
    for (const [name, from] of Object.entries(webRegistrationModules())) {
      const to = join(prosody.dir, "modules", name);
      mkdirSync(to, { recursive: true });
      cpSync(from, to, { recursive: true, dereference: true });
      if (owner) chownTree(to, owner);
    }
    await prosody.start();
    ({ connection, ...clients } = await connectModuleClients(prosody, COMPONENT));
  });
  after(async () => {
    await connection?.stop();
    await prosody?.dispose();
  });

  async function onWeb(username: string) {
    const invite = await clients.manager.createAccount(HOST, { ttl: 600, source: "invites-api/web" });
    const password = `Pw-${Math.random().toString(36).slice(2, 12)}-w0rd`;
    recordSecret("account password", password);
    return registerOnWeb({
      httpPort: prosody?.httpPort ?? 0,
      landingPage: invite.landingPage ?? "",
      domain: HOST,
      username,
      password,
    });
  }
  const exists = (username: string) => accountExists(prosody?.dataDir ?? "", HOST, username);

  it("paused: the form says so and makes no account; resumed: it does", async () => {
    await clients.controls.setBudget(HOST, { paused: true }, ACTOR);
    const refused = await onWeb("webpaused");
    assert.equal(refused.registered, false);
    assert.equal(refused.registered ? undefined : refused.message, "registrations are paused");
    assert.equal(exists("webpaused"), false);
    await clients.controls.setBudget(HOST, { paused: false }, ACTOR);
    assert.equal((await onWeb("webpaused")).registered, true);
  });

  it("a budget of 1: the second registration is refused until the window ends", async () => {
    await clients.controls.setBudget(HOST, { limit: { count: 1, windowSeconds: 86_400 } }, ACTOR);
    assert.equal((await onWeb("webfirst")).registered, true);
    const refused = await onWeb("websecond");
    assert.equal(refused.registered, false);
    assert.match(refused.registered ? "" : (refused.message ?? ""), /^the registration budget is used up until /);
    assert.equal(exists("websecond"), false);
    assert.equal((await clients.controls.budget(HOST)).used, 1);
  });
});
