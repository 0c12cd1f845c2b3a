import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "@keyv/redis";
import pg from "pg";
import type { RunningService } from "../support/service.js";
import { startPostgres, startRedis, type RunningServer } from "../support/servers.js";
import { createKey, startServiceWithoutXmpp } from "../support/stack.js";

const HOST = "example.test";
const PASSWORD = "store-deadline-password-5f3a9c";
// src/store/deadline.ts: STORE_TIMEOUT_MS.
const DEADLINE_MS = 5_000;
// Past this, the request is taken as hanging: the client gives up and the test fails.
const MARGIN_MS = 3_000;

/** Redis asking for a password, so that the log can be seen not to hold it. */
async function redisWithPassword(server: RunningServer): Promise<string> {
  const client = createClient({ url: server.url });
  await client.connect();
  await client.configSet("requirepass", PASSWORD);
  await client.destroy();
  return `redis://:${PASSWORD}@127.0.0.1:${server.port}`;
}

/** PostgreSQL in the tests trusts every local client: a password is sent, never checked. */
async function postgresWithPassword(server: RunningServer): Promise<string> {
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${server.port}/postgres`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.end();
  return url;
}

const STORES = [
  ["redis", startRedis, redisWithPassword],
  ["postgres", startPostgres, postgresWithPassword],
] as const;

/**
 * A store that takes the connection and then stops answering (SIGSTOP: a hung server, a dropped
 * network path) must not hold requests forever: each is answered 503 store_unavailable within the
 * store deadline, the log names the store once (without its password), and once the store answers
 * again so does the service. A GET-only key sent with POST is looked up and answered 405: a key
 * check with nothing written and no Prosody needed.
 */
for (const [kind, startServer, secured] of STORES) {
  describe(`a ${kind} store that stops answering`, () => {
    let server: RunningServer;
    let service: RunningService | undefined;

    before(async () => {
      server = await startServer();
    });

    after(async () => {
      server?.signal("SIGCONT");
      await service?.stop();
      await server?.dispose();
    });

    const post = (key: string, timeoutMs: number) =>
      fetch(`${service?.url}/invites_api`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
        signal: AbortSignal.timeout(timeoutMs),
      });

    it("answers 503 store_unavailable within the deadline, then serves again once it answers", async () => {
      const keyStore = await secured(server);
      const key = await createKey(keyStore, HOST, "frozen", "--methods", "GET");
      service = await startServiceWithoutXmpp({ KEY_STORE: keyStore });
      const running = service;
      assert.equal((await post(key, 10_000)).status, 405, "the key is accepted while the store answers");

      server.signal("SIGSTOP");
      try {
        const started = Date.now();
        const res = await post(key, DEADLINE_MS + MARGIN_MS).catch((err: unknown) => {
          throw new Error(`no answer within ${DEADLINE_MS + MARGIN_MS} ms: the request hangs`, { cause: err });
        });
        const elapsed = Date.now() - started;
        assert.equal(res.status, 503);
        assert.equal(res.headers.get("retry-after"), "5");
        assert.equal(((await res.json()) as { error: string }).error, "store_unavailable");
        assert.ok(elapsed >= DEADLINE_MS - 500, `answered after ${elapsed} ms: before the deadline`);
        assert.ok(elapsed < DEADLINE_MS + MARGIN_MS, `answered after ${elapsed} ms`);

        const down = await running.waitForLog((line) => line.msg === "key store unavailable", 1_000);
        assert.equal(down.level, 40);
        assert.match(
          String(down.store),
          new RegExp(`^${kind} ${kind}://.*:\\*\\*\\*\\*@127\\.0\\.0\\.1:${server.port}`),
        );
        // A second request while the store is still away: no second line.
        assert.equal((await post(key, DEADLINE_MS + MARGIN_MS)).status, 503);
        assert.equal(running.lines.filter((line) => line.msg === "key store unavailable").length, 1);
      } finally {
        server.signal("SIGCONT");
      }

      // Every request now answers, at once or once the client has found the store again.
      let status = 0;
      const until = Date.now() + 20_000;
      while (status !== 405 && Date.now() < until) {
        status = (await post(key, DEADLINE_MS + MARGIN_MS)).status;
        if (status !== 405) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(status, 405, "the key is accepted again");
      const up = await running.waitForLog((line) => line.msg === "key store answers again", 1_000);
      assert.match(String(up.store), /\*\*\*\*/);
      assert.ok(!running.output().includes(PASSWORD), "the log holds the store's password");
    });
  });
}
