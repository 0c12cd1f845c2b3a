import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createClient } from "@keyv/redis";
import pg from "pg";
import { startAll } from "../support/cleanup.js";
import { inviteIsValid } from "../support/invites.js";
import { startProsody, type RunningProsody } from "../support/prosody.js";
import { runCli, startService, type RunningService } from "../support/service.js";
import { startPostgres, startRedis, type RunningServer } from "../support/servers.js";
import { createKey, serviceEnv, waitReady } from "../support/stack.js";

const HOST = "example.test";
const COMPONENTS = [
  { domain: "invites1.example.test", secret: "shared-secret-1" },
  { domain: "invites2.example.test", secret: "shared-secret-2" },
];

/** Every value the store holds, as one string, to look for secrets in. */
async function storeContents(kind: string, url: string): Promise<string> {
  if (kind === "redis") {
    const client = createClient({ url });
    await client.connect();
    const parts: string[] = [];
    for (const key of await client.keys("*")) {
      const type = await client.type(key);
      parts.push(key, type === "string" ? ((await client.get(key)) ?? "") : JSON.stringify(await client.hGetAll(key)));
    }
    await client.quit();
    return parts.join("\n");
  }
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const tables = await db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
  const parts: string[] = [];
  for (const { tablename } of tables.rows as Array<{ tablename: string }>) {
    parts.push(JSON.stringify((await db.query(`SELECT * FROM "${tablename}"`)).rows));
  }
  await db.end();
  return parts.join("\n");
}

const backends: Array<[string, () => Promise<RunningServer>]> = [
  ["redis", startRedis],
  ["postgres", startPostgres],
];

for (const [kind, startStore] of backends) {
  describe(`two instances sharing keys in ${kind}`, () => {
    it("see the same keys, the same deletes and the same rate-limit counts; survive the store going away", async () => {
      // Each thing started is stopped on every path, also when a later one fails to start.
      const store = await startStore();
      let prosody: RunningProsody | undefined;
      let services: RunningService[] = [];
      const secrets: string[] = [];
      const ids: string[] = [];
      try {
        const running = (prosody = await startProsody({ hosts: [HOST], components: COMPONENTS }));
        const env = (i: number) =>
          serviceEnv(running, COMPONENTS[i]!, store.url, { AUTH_FAILURE_LIMIT: "4/1m", TRUST_PROXY: "true" });
        services = await startAll([() => startService(env(0)), () => startService(env(1))], (s) => s.stop());
        const [a, b] = services as [RunningService, RunningService];
        await Promise.all([waitReady(a.url, 15_000), waitReady(b.url, 15_000)]);
        const newKey = async (...args: string[]) => {
          const k = await createKey(store.url, HOST, ...args);
          ids.push(k.split("/")[0] ?? "");
          secrets.push(k.split("/")[1] ?? "");
          return k;
        };
        // Each phase comes from its own client address, so that one phase's failures block no other.
        const ask = (url: string, k: string, from: string) =>
          fetch(`${url}/invites_api?key=${k}`, { redirect: "manual", headers: { "X-Forwarded-For": from } });

        // A key made with the CLI works on both instances, and its rate counts across both.
        const key = await newKey("shared", "--rate", "3/1m");
        const answers = [];
        for (const url of [a.url, b.url, a.url, b.url]) answers.push(await ask(url, key, "192.0.2.1"));
        assert.deepEqual(
          answers.map((r) => r.status),
          [201, 201, 201, 429],
        );
        for (const res of answers.slice(0, 3)) {
          assert.ok(await inviteIsValid(res.headers.get("location") ?? "", prosody.httpPort));
        }

        // Failed key attempts from one address count across both instances too.
        const bad = `AAAAAAAA/${"c".repeat(32)}`;
        const failures = [];
        for (const url of [a.url, b.url, a.url, b.url, a.url]) failures.push((await ask(url, bad, "192.0.2.2")).status);
        assert.deepEqual(failures, [403, 403, 403, 403, 429]);

        // A delete through the CLI takes effect on both at once.
        const doomed = await newKey("to delete");
        const id = doomed.split("/")[0] ?? "";
        assert.equal((await ask(a.url, doomed, "192.0.2.3")).status, 201);
        assert.match(
          (await runCli(["list", HOST], { KEY_STORE: store.url })).stdout,
          new RegExp(`^${id}\\tto delete$`, "m"),
        );
        // "--": a random id may start with "-", which would otherwise read as an option.
        const deleted = await runCli(["delete", HOST, "--", id], { KEY_STORE: store.url });
        assert.equal(deleted.code, 0, deleted.stderr);
        assert.equal((await ask(a.url, doomed, "192.0.2.3")).status, 403);
        assert.equal((await ask(b.url, doomed, "192.0.2.3")).status, 403);

        // The store holds the keys, hashed: no secret in it.
        const contents = await storeContents(kind, store.url);
        for (const kept of ids.filter((i) => i !== id))
          assert.ok(contents.includes(kept), `the store holds key ${kept}`);
        for (const secret of secrets) assert.equal(contents.includes(secret), false, "no secret in the store");

        // The store going away gives 503 at once, never a hang or a crash; it recovers by itself.
        const later = await newKey("after the outage");
        await store.stop();
        const started = Date.now();
        assert.equal((await ask(b.url, later, "192.0.2.4")).status, 503);
        // Generous for a loaded machine; what it rules out is a request left hanging.
        assert.ok(Date.now() - started < 10_000, "answered at once");
        const ready = await fetch(`${b.url}/ready`);
        assert.equal(ready.status, 503);
        assert.equal(((await ready.json()) as { store: { ok: boolean } }).store.ok, false);
        await store.start();
        await Promise.all([waitReady(a.url, 20_000), waitReady(b.url, 20_000)]);
        assert.equal(a.child.exitCode, null);
        assert.equal(b.child.exitCode, null);
        if (kind === "postgres") {
          // PostgreSQL kept its data (Redis here runs without persistence).
          assert.equal((await ask(b.url, later, "192.0.2.4")).status, 201);
        }
      } finally {
        await Promise.allSettled(services.map((s) => s.stop()));
        await prosody?.dispose();
        await store.dispose();
      }
    });
  });
}
