// The try-out: a throwaway Prosody on loopback, the real service beside it, one key, one curl line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MANAGE_MODULES, startProsody } from "../test/support/prosody.js";
import { runCli, startService } from "../test/support/service.js";

const HOST = "example.test";
const component = { domain: `invites.${HOST}`, secret: "try-out-component-secret" };

// Least privilege, as prosody-config/ ships it: the component is no admin; mod_invites_manage lets it in.
const prosody = await startProsody({
  hosts: [HOST],
  components: [component],
  admins: [],
  hostModules: MANAGE_MODULES,
  extra: `invites_manage_jids = { "${component.domain}" }\ninvites_manage_groups = { staff = "Staff" }`,
});
const storeDir = mkdtempSync(join(tmpdir(), "invites-api-try-"));
const env = { KEY_STORE: join(storeDir, "keys.sqlite") };
const service = await startService({
  ...env,
  LOG_LEVEL: "info",
  COMPONENT_SERVICE: `xmpp://127.0.0.1:${prosody.componentPort}`,
  COMPONENT_DOMAIN: component.domain,
  COMPONENT_SECRET: component.secret,
});
await service.waitForLog((line) => line.msg === "connected to Prosody");
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

The link names http://${HOST}:${prosody.httpPort}/…; to open it here, send it to 127.0.0.1:
  curl -i -H 'Host: ${HOST}:${prosody.httpPort}' 'http://127.0.0.1:${prosody.httpPort}/invites_page?TOKEN'

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
  rmSync(storeDir, { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
