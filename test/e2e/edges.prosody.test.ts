import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import type { RunningService } from "../support/service.js";
import { createKey, withStack } from "../support/stack.js";

const HOST = "example.test";
const COMPONENT = { domain: "invites.example.test", secret: "edges-secret" };
const PROSODY = { hosts: [HOST], components: [COMPONENT] };
const BAD_KEY = `badbadba/${"b".repeat(32)}`;

/** The client address of each access log line of an /invites_api request. */
const loggedAddresses = (lines: ReadonlyArray<Record<string, unknown>>) =>
  lines
    .filter(
      (line) =>
        line.msg === "request" && String((line.req as { url?: string } | undefined)?.url).startsWith("/invites_api"),
    )
    .map((line) => line.remoteAddress);

/** Waits for the access log lines of `count` /invites_api requests (written as each answer ends). */
async function addressesLogged(service: RunningService, count: number): Promise<unknown[]> {
  await service.waitForLog(() => loggedAddresses(service.lines).length >= count);
  return loggedAddresses(service.lines);
}

const get = (url: string, headers: Record<string, string> = {}, method = "GET") =>
  fetch(url, { method, headers, redirect: "manual" });

describe("client addresses behind proxies", () => {
  it("TRUST_PROXY=true counts failures against the address the proxy appended, whatever the client wrote", async () => {
    const env = { TRUST_PROXY: "true", AUTH_FAILURE_LIMIT: "3/1m", DEFAULT_KEY_RATE: "off" };
    await withStack(PROSODY, { component: COMPONENT, env }, async ({ service, keyStore }) => {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        // A fresh fake address first each time, then what our one proxy appended.
        const forwarded = `192.0.2.${i + 1}, 203.0.113.9`;
        const res = await get(`${service.url}/invites_api?key=${BAD_KEY}`, { "X-Forwarded-For": forwarded });
        statuses.push(res.status);
      }
      assert.deepEqual(statuses, [403, 403, 403, 429, 429, 429]);
      // Another client behind the same proxy is not blocked, and a good key from there works.
      const key = await createKey(keyStore, HOST);
      const other = await get(`${service.url}/invites_api?key=${key}`, {
        "X-Forwarded-For": "203.0.113.9, 198.51.100.7",
      });
      assert.equal(other.status, 201);
      // The access log names the same address the limit counts.
      const logged = await addressesLogged(service, 7);
      assert.deepEqual(logged.slice(0, 6), Array(6).fill("203.0.113.9"));
      assert.equal(logged.at(-1), "198.51.100.7");
    });
  });

  it("TRUST_PROXY=2 takes the second entry from the right; without it X-Forwarded-For is ignored", async () => {
    const env = { TRUST_PROXY: "2", AUTH_FAILURE_LIMIT: "2/1m" };
    await withStack(PROSODY, { component: COMPONENT, env }, async ({ service }) => {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const forwarded = `10.9.9.${i}, 198.51.100.4, 10.0.0.${i + 1}`;
        statuses.push(
          (await get(`${service.url}/invites_api?key=${BAD_KEY}`, { "X-Forwarded-For": forwarded })).status,
        );
      }
      assert.deepEqual(statuses, [403, 403, 429]);
      assert.deepEqual(await addressesLogged(service, 3), Array(3).fill("198.51.100.4"));
    });
    await withStack(PROSODY, { component: COMPONENT, env: { AUTH_FAILURE_LIMIT: "2/1m" } }, async ({ service }) => {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        statuses.push(
          (await get(`${service.url}/invites_api?key=${BAD_KEY}`, { "X-Forwarded-For": `192.0.2.${i}` })).status,
        );
      }
      assert.deepEqual(statuses, [403, 403, 429], "the socket's address is counted");
      assert.deepEqual(await addressesLogged(service, 3), Array(3).fill("127.0.0.1"));
    });
  });
});

describe("405 answers", () => {
  it("every 405 carries Allow", async () => {
    await withStack(PROSODY, { component: COMPONENT }, async ({ service, keyStore }) => {
      const getOnly = await createKey(keyStore, HOST, "--methods", "GET");
      const both = await createKey(keyStore, HOST);
      const cases: Array<[string, string, Record<string, string>, string]> = [
        ["POST", "/invites_api", { Authorization: `Bearer ${getOnly}` }, "GET, OPTIONS"],
        ["HEAD", "/invites_api", { Authorization: `Bearer ${both}` }, "GET, POST, OPTIONS"],
        ["PUT", "/invites_api", {}, "GET, POST, OPTIONS"],
        ["DELETE", "/invites_api", { Authorization: `Bearer ${both}` }, "GET, POST, OPTIONS"],
        ["POST", "/ready", {}, "GET"],
        ["PATCH", "/metrics", {}, "GET"],
      ];
      for (const [method, path, headers, allow] of cases) {
        const res = await get(`${service.url}${path}`, headers, method);
        assert.equal(res.status, 405, `${method} ${path}`);
        assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
      }
    });
  });
});

interface Tally {
  statuses: Map<number, number>;
  errors: string[];
  closeAnswers: number;
}

/** One HTTP request on a keep-alive agent; the answer's status, or the error it met. */
function send(agent: Agent, url: URL, headers: Record<string, string>): Promise<{ status: number; close: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers },
      (res) => {
        res.resume();
        res.once("end", () => resolve({ status: res.statusCode ?? 0, close: res.headers.connection === "close" }));
        res.once("error", reject);
      },
    );
    req.once("error", reject);
    req.end();
  });
}

describe("shutdown under keep-alive load", () => {
  it("answers every request written to a connection it accepted; /ready is 503 before the listener closes", async () => {
    const env = { SHUTDOWN_GRACE_MS: "1500", DEFAULT_KEY_RATE: "off" };
    await withStack(PROSODY, { component: COMPONENT, env }, async ({ service, keyStore }) => {
      const key = await createKey(keyStore, HOST);
      const url = new URL(`${service.url}/invites_api`);
      const agent = new Agent({ keepAlive: true, maxSockets: 16 });
      const tally: Tally = { statuses: new Map(), errors: [], closeAnswers: 0 };
      // A load balancer: polls /ready and stops sending once it is not 200.
      let balancerSends = true;
      let notReadyAt = 0;
      const balancer = (async () => {
        while (balancerSends) {
          const ready = await fetch(`${service.url}/ready`).then(
            (r) => r.status,
            () => 0,
          );
          if (ready !== 200 && notReadyAt === 0) {
            notReadyAt = Date.now();
            assert.equal(ready, 503, "the listener is still open when /ready turns 503");
            balancerSends = false;
          }
          await sleep(100);
        }
      })();
      const clients = Array.from({ length: 16 }, async () => {
        while (balancerSends) {
          try {
            const answer = await send(agent, url, { Authorization: `Bearer ${key}` });
            tally.statuses.set(answer.status, (tally.statuses.get(answer.status) ?? 0) + 1);
            if (answer.close) tally.closeAnswers += 1;
          } catch (err) {
            tally.errors.push((err as Error).message);
          }
        }
      });
      await sleep(1_000);
      const signalledAt = Date.now();
      const exit = service.stop("SIGTERM");
      await Promise.all([balancer, ...clients]);
      agent.destroy();
      assert.equal(await exit, 0);
      assert.deepEqual(tally.errors, [], "a request on an accepted connection got no answer");
      assert.deepEqual([...tally.statuses.keys()], [201]);
      assert.ok((tally.statuses.get(201) ?? 0) > 16, "the clients were really busy");
      assert.ok(tally.closeAnswers > 0, "answers while stopping say Connection: close");
      assert.ok(notReadyAt - signalledAt < 1_500, "/ready turned 503 within the grace period");
    });
  });
});
