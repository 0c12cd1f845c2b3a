import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { terminate, track } from "../support/cleanup.js";
import { serverPort } from "../support/ports.js";
import { MANAGE_MODULES } from "../support/prosody.js";
import { runCli } from "../support/service.js";
import { createKey, startStack } from "../support/stack.js";

// The webhook receiver of docs/webhooks.md, copied out of the page and run as it says (`receiver.mjs`), fed
// by the service's real deliveries: every event it prints names what happened (issue 26, point 16).
const root = fileURLToPath(new URL("../../", import.meta.url));
const HOST = "receiver.test";
const COMPONENT = { domain: "invites.receiver.test", secret: "receiver-secret" };

/** The first js block after docs/webhooks.md says to save it as receiver.mjs. */
function docReceiver(): string {
  const page = readFileSync(join(root, "docs/webhooks.md"), "utf8");
  const at = page.indexOf("`receiver.mjs`");
  assert.ok(at > 0, "docs/webhooks.md names receiver.mjs");
  const block = /```js\n([\s\S]*?)```/.exec(page.slice(at));
  assert.ok(block?.[1], "a js block follows");
  return block[1];
}

async function listening(port: number, deadline: number): Promise<void> {
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => resolve(true)).once("error", () => resolve(false));
      socket.setTimeout(1_000, () => resolve(false));
    }).then((ok) => ok);
    if (open) return;
    assert.ok(Date.now() < deadline, "the docs' receiver did not listen");
    await sleep(50);
  }
}

describe("the webhook receiver of docs/webhooks.md, against the service and a real Prosody", () => {
  it("runs as receiver.mjs and prints each event with what it names: no undefined", async () => {
    const dir = mkdtempSync(join(tmpdir(), "invites-api-receiver-"));
    // As after `npm install standardwebhooks` in that folder.
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
    writeFileSync(join(dir, "receiver.mjs"), docReceiver());
    const stack = await startStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: MANAGE_MODULES } },
        extra: `invites_manage_jids = { "${COMPONENT.domain}" }\ninvites_manage_groups = { team = "Team" }`,
      },
      { component: COMPONENT, env: { WEBHOOK_POLL_MS: "100" } },
    );
    let receiver: ReturnType<typeof spawn> | undefined;
    let exited: Promise<void> = Promise.resolve();
    try {
      // Chosen before the receiver starts: the webhook is added with its address first.
      const port = serverPort();
      const added = await runCli(
        ["webhook", "add", HOST, `http://127.0.0.1:${port}/`, "--allow-http", "--allow-private"],
        { KEY_STORE: stack.keyStore },
      );
      assert.equal(added.code, 0, added.stderr);
      const secret = added.stdout.trim().split("\n").at(-1) ?? "";
      let printed = "";
      let errors = "";
      const child = track(
        spawn(process.execPath, ["receiver.mjs"], {
          cwd: dir,
          env: { PATH: process.env.PATH, WEBHOOK_SECRET: secret, PORT: String(port) },
          stdio: ["ignore", "pipe", "pipe"],
        }),
      );
      receiver = child;
      exited = new Promise((resolve) => child.once("exit", () => resolve()));
      child.stdout?.on("data", (chunk: Buffer) => (printed += chunk.toString()));
      child.stderr?.on("data", (chunk: Buffer) => (errors += chunk.toString()));
      await listening(port, Date.now() + 10_000);

      const key = await createKey(stack.keyStore, HOST, "manage", "--scope", "manage");
      const call = async (path: string, method: string, json?: unknown) => {
        const res = await fetch(`${stack.service.url}${path}`, {
          method,
          headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
          ...(json === undefined ? {} : { body: JSON.stringify(json) }),
        });
        return { status: res.status, body: res.status === 204 ? { id: "" } : ((await res.json()) as { id: string }) };
      };
      const account = await call("/invites/account", "POST", { username: "ana" });
      assert.equal(account.status, 201);
      const group = await call("/invites/group", "POST", { groups: ["team"] });
      assert.equal(group.status, 201);
      assert.equal((await call(`/invites/${encodeURIComponent(group.body.id)}`, "DELETE")).status, 204);

      const deadline = Date.now() + 20_000;
      while (printed.trim().split("\n").filter(Boolean).length < 3) {
        assert.ok(Date.now() < deadline, `the receiver printed:\n${printed}\n${errors}`);
        await sleep(50);
      }
      const lines = printed.trim().split("\n");
      const keyId = key.split("/")[0] ?? "";
      assert.ok(lines.includes(`invite.created ${account.body.id} ana@${HOST}`), printed);
      assert.ok(lines.includes(`invite.created ${group.body.id} ${HOST}`), printed);
      assert.ok(lines.includes(`invite.revoked ${group.body.id} by key:${keyId}`), printed);
      assert.doesNotMatch(printed, /undefined/);
      assert.equal(errors, "");
    } finally {
      if (receiver) await terminate(receiver, exited, "SIGTERM");
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
