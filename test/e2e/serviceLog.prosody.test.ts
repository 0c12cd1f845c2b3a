import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MANAGE_MODULES } from "../support/prosody.js";
import { startStack } from "../support/stack.js";

// The service's own lines about its connection to Prosody, read as an operator reads them: each
// field once, and a clean stop that says nothing about reconnecting (issue 26, point 16).
const HOST = "log.test";
const COMPONENT = { domain: "invites.log.test", secret: "log-secret" };

describe("the service's connection log lines, against a real Prosody", () => {
  it("'connected to Prosody' names each field once; a clean stop logs no reconnection", async () => {
    const stack = await startStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: MANAGE_MODULES } },
        extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
      },
      { component: COMPONENT },
    );
    let stopped = false;
    try {
      const connected = stack.service
        .output()
        .split("\n")
        .filter((line) => line.includes('"msg":"connected to Prosody"'));
      assert.equal(connected.length, 1, stack.service.output());
      const line = connected[0] ?? "";
      const keys = [...line.matchAll(/"([A-Za-z_]+)":/g)].map((m) => m[1]);
      assert.deepEqual(
        keys.filter((key, i) => keys.indexOf(key) !== i),
        [],
        `a field is written twice: ${line}`,
      );
      assert.equal(JSON.parse(line).prosody, `xmpp://127.0.0.1:${stack.prosody.componentPort}`);
      const code = await stack.service.stop();
      stopped = true;
      assert.equal(code, 0);
      const warnings = stack.service.lines.filter((l) => Number(l.level) >= 40).map((l) => String(l.msg));
      assert.deepEqual(warnings, [], stack.service.output());
    } finally {
      if (!stopped) await stack.service.stop();
      await stack.stop();
    }
  });
});
