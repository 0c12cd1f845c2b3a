// The try-out: a throwaway Prosody on loopback, the real service beside it, one key, one curl line.
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { MANAGE_MODULES } from "../test/support/prosody.js";
import { runCli } from "../test/support/service.js";
import { startStackWithInvitePage } from "../test/support/stack.js";

const HOST = "example.test";
const component = { domain: `invites.${HOST}`, secret: "try-out-component-secret" };

// Least privilege, as prosody-config/ ships it: the component is no admin; mod_invites_manage lets it
// in. Invite links open the service's invite page (invites_page), where a browser signs up.
const { prosody, service, keyStore } = await startStackWithInvitePage(
  {
    hosts: [HOST],
    components: [component],
    admins: [],
    hostModules: MANAGE_MODULES,
    extra: `invites_manage_jids = { "${component.domain}" }\ninvites_manage_groups = { staff = "Staff" }`,
  },
  { component, env: { LOG_LEVEL: "info" } },
);
const env = { KEY_STORE: keyStore };
const created = await runCli(["create", HOST, "try-out", "--scope", "manage"], env);
const key = created.stdout.trim().split("\n").at(-1);

console.log(`
Prosody ${HOST} is on 127.0.0.1 (component port ${prosody.componentPort}, HTTP ${prosody.httpPort}).
invites-api listens on ${service.url}, key store ${env.KEY_STORE}.

Get an invite (201 Created, the link in Location):

  curl -i -H 'Authorization: Bearer ${key}' ${service.url}/invites_api

The /invites resource (the key has scope manage): an invite for "alice" valid one hour, the list:

  curl -s -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' \\
    -d '{"username": "alice", "ttl": 3600}' ${service.url}/invites/account
  curl -s -H 'Authorization: Bearer ${key}' ${service.url}/invites

Open the link (Location, landing_page) in a browser on this machine to sign up with it.

More keys: KEY_STORE=${env.KEY_STORE} npx invites-api create ${HOST} NAME
Press Ctrl-C to stop both.`);

// The children do not hold this process open (test/support unrefs them, so that a test cannot
// hang on one): this timer does, until Ctrl-C.
const keepAlive = setInterval(() => undefined, 60_000);
let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(keepAlive);
  await service.stop();
  await prosody.dispose();
  rmSync(dirname(keyStore), { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
