// The try-out: a throwaway Prosody on loopback, the real service beside it, one key, one curl line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProsody } from "../test/support/prosody.js";
import { runCli, startService } from "../test/support/service.js";

const HOST = "example.test";
const component = { domain: `invites.${HOST}`, secret: "try-out-component-secret" };

const prosody = await startProsody({ hosts: [HOST], components: [component] });
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
const created = await runCli(["create", HOST, "try-out"], env);
const key = created.stdout.trim().split("\n").at(-1);

console.log(`
Prosody ${HOST} is on 127.0.0.1 (component port ${prosody.componentPort}, HTTP ${prosody.httpPort}).
invites-api listens on ${service.url}, key store ${env.KEY_STORE}.

Get an invite (201 Created, the link in Location):

  curl -i -H 'Authorization: Bearer ${key}' ${service.url}/invites_api

The link names http://${HOST}:${prosody.httpPort}/…; to open it here, send it to 127.0.0.1:
  curl -i -H 'Host: ${HOST}:${prosody.httpPort}' 'http://127.0.0.1:${prosody.httpPort}/invites_page?TOKEN'

More keys: KEY_STORE=${env.KEY_STORE} npx invites-api create ${HOST} NAME
Press Ctrl-C to stop both.`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await service.stop();
  await prosody.dispose();
  rmSync(storeDir, { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
