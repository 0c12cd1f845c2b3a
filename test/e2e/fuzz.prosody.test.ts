import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countInvites } from "../support/invites.js";
import { rawRequest } from "../support/rawHttp.js";
import { createKey, withStack } from "../support/stack.js";
import { otherChar, withCharChanged } from "../support/tamper.js";

const HOST = "example.test";
const COMPONENT = { domain: "invites.example.test", secret: "fuzz-secret" };
const REQUESTS = 4_000;
// The small run, with the failed-attempt limit on: low enough that these inputs meet it.
const LIMITED_REQUESTS = 300;
const FAILURE_LIMIT = "10/1m";

/** A small seeded generator, so a failure can be replayed with the same seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `text` with the case of its letters swapped: surely different if it has one, else its first character changed. */
function caseSwapped(text: string): string {
  const swapped = [...text].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join("");
  return swapped === text ? withCharChanged(text, 0) : swapped;
}

function malformedRequests(validKey: string, seed: number, count: number): Buffer[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const [id = "", secret = ""] = validKey.split("/");
  const keys = [
    "",
    "noslash",
    "/",
    `${id}/`,
    `/${secret}`,
    `${id}//${secret}`,
    `${id}/${secret}x`,
    `${id}/${secret.slice(1)}`,
    `${id}/${caseSwapped(secret)}`,
    `${id}/${withCharChanged(secret)}`,
    `${id.slice(1)}${otherChar(id.charAt(0))}/${secret}`,
    `${id}/${"A".repeat(5_000)}`,
    `${"é".repeat(8)}/${secret}`,
    `${id}/${encodeURIComponent("ü".repeat(32))}`,
    `${id}%2F${secret.slice(2)}`,
    "%",
    "%ZZ",
    "%E9%E9",
    `${id}/%00${secret.slice(3)}`,
    `${id}/${secret.slice(0, 16)}%20${secret.slice(16)}`,
  ];
  const queries = [
    () => `?key=${pick(keys)}`,
    () => `?key=${pick(keys)}&key=${pick(keys)}`,
    () => `?key=${validKey}&key=${validKey}`,
    () => `?key[]=${validKey}`,
    () => `?redirect&key=${pick(keys)}`,
    () => `?%=${pick(keys)}`,
    () => "",
    () => `?${"k".repeat(20_000)}=1`,
  ];
  const paths = ["/invites_api", "/INVITES_API", "/invites_api/", "//invites_api", "/invites_api%ZZ", "/invites_%61pi"];
  const methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "HEAD", "FOO", "get", "CONNECT"];
  const auth = [
    undefined,
    () => `Bearer ${pick(keys)}`,
    () => `Basic ${Buffer.from(validKey).toString("base64")}`,
    () => `Token ${validKey}`,
    () => `Digest ${validKey}`,
    () => "Bearer",
    () => `Bearer ${validKey} extra`,
    () => `Bearer ${"x".repeat(30_000)}`,
  ];
  const requests: Buffer[] = [];
  for (let i = 0; i < count; i += 1) {
    const method = pick(methods);
    const target = method === "CONNECT" ? `${HOST}:443` : `${pick(paths)}${pick(queries)()}`;
    const header = pick(auth);
    const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1`, "Connection: close"];
    if (header) lines.push(`Authorization: ${header()}`);
    if (random() < 0.05) lines.push(`X-Filler: ${"f".repeat(20_000)}`);
    if (method === "POST") lines.push("Content-Length: 0");
    const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "utf8");
    // Some requests carry raw non-ASCII bytes in the request line or a header.
    if (random() < 0.05) head[4] = 0xe9;
    requests.push(head);
  }
  return requests;
}

/**
 * Sends `count` malformed requests (with the service's environment `env`) and checks that every one
 * gets a 4xx and that none creates an invite; resolves with the count of each status.
 */
async function fuzz(env: Record<string, string>, count: number, seed: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  await withStack(
    { hosts: [HOST], components: [COMPONENT] },
    { component: COMPONENT, env },
    async ({ prosody, service, keyStore }) => {
      const validKey = await createKey(keyStore, HOST);
      const port = Number(new URL(service.url).port);
      const requests = malformedRequests(validKey, seed, count);
      const iqsBefore = prosody
        .log()
        .split("\n")
        .filter((l) => l.includes("Received[component]: <iq")).length;
      const queue = [...requests];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let request = queue.pop(); request; request = queue.pop()) {
            const status = await rawRequest(port, request);
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
          }
        }),
      );
      console.log("statuses:", Object.fromEntries(statuses));
      const wrong = [...statuses.keys()].filter((s) => s < 400 || s >= 500);
      assert.deepEqual(wrong, [], "every malformed request gets a 4xx");
      assert.equal(service.child.exitCode, null, "the service is still running");
      assert.equal((await fetch(`${service.url}/health`)).status, 200);
      assert.equal(await countInvites(prosody.dataDir), 0, "no invite created");
      assert.equal(service.lines.filter((l) => l.msg === "creating invite").length, 0, "no ad-hoc call made");
      const iqsAfter = prosody
        .log()
        .split("\n")
        .filter((l) => l.includes("Received[component]: <iq")).length;
      assert.equal(iqsAfter, iqsBefore, "Prosody received no IQ from the component");
      assert.equal(service.output().includes(validKey.split("/")[1] ?? "-"), false, "no secret in the log");
    },
  );
  return statuses;
}

describe("fuzzing the HTTP API with malformed requests", () => {
  it(`answers ${REQUESTS} malformed requests with 4xx only, creates nothing, sends Prosody nothing`, async () => {
    // The failed-attempt limit off, so that every input reaches the key parser instead of a 429.
    const statuses = await fuzz({ AUTH_FAILURE_LIMIT: "off" }, REQUESTS, 20261128);
    assert.equal(statuses.get(429) ?? 0, 0, "no input stopped by a limit before the parser");
  });

  it(`answers ${LIMITED_REQUESTS} malformed requests the same with the failed-attempt limit on`, async () => {
    const statuses = await fuzz({ AUTH_FAILURE_LIMIT: FAILURE_LIMIT }, LIMITED_REQUESTS, 20261129);
    assert.ok((statuses.get(429) ?? 0) > 0, "the limit took effect");
  });
});
