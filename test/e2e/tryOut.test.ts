import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { terminate, track } from "../support/cleanup.js";
import { recordSecret } from "../support/handedOut.js";

const TRY = fileURLToPath(new URL("../../scripts/try.ts", import.meta.url));

describe("the README's try-out (scripts/try.ts)", () => {
  it("stays up until Ctrl-C, its curl lines work, its invite links open the sign-up page, and Ctrl-C stops everything it started", async () => {
    const child = track(spawn(process.execPath, ["--import", "tsx", TRY], { stdio: ["ignore", "pipe", "pipe"] }));
    const exited = once(child, "exit");
    try {
      let output = "";
      child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const deadline = Date.now() + 60_000;
      while (!output.includes("Press Ctrl-C")) {
        assert.ok(Date.now() < deadline && child.exitCode === null, `no try-out banner: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // Still up a while after the banner: nothing but Ctrl-C ends it.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(child.exitCode, null, output);
      const key = /Bearer ([^']+)'/.exec(output)?.[1] ?? "";
      const api = /(http:\/\/127\.0\.0\.1:\d+)\/invites_api/.exec(output)?.[1] ?? "";
      const invite = await fetch(`${api}/invites_api`, {
        headers: { Authorization: `Bearer ${key}` },
        redirect: "manual",
      });
      assert.equal(invite.status, 201);
      // The link opens the service's own invite page, where a browser on this machine signs up.
      const link = invite.headers.get("location") ?? "";
      assert.ok(link.startsWith(`${api}/invite/example.test/`), link);
      const page = await fetch(link);
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
      const password = "Try-Out-Lantern-8142";
      recordSecret("account password", password);
      const signUp = await fetch(link, {
        method: "POST",
        headers: { Origin: api, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ username: "trier", password, confirm: password }),
      });
      assert.equal(signUp.status, 201, await signUp.clone().text());
      assert.match(await signUp.text(), /Your account trier@example\.test is ready/);
      const resource = await fetch(`${api}/invites/account`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ username: "alice", ttl: 3600 }),
      });
      assert.equal(resource.status, 201, await resource.clone().text());
      assert.equal((await fetch(`${api}/invites`, { headers: { Authorization: `Bearer ${key}` } })).status, 200);
      child.ref(); // held while it stops
      child.kill("SIGINT");
      const [code] = await exited;
      assert.equal(code, 0);
      await assert.rejects(fetch(`${api}/health`), "the service is gone");
    } finally {
      await terminate(child, exited, "SIGINT");
    }
  });
});
