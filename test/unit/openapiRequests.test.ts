import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import Keyv from "keyv";
import { pino } from "pino";
import { openApiDocument } from "../../src/http/openapi.js";
import { createHttpApp } from "../../src/http/server.js";
import { createKeyStore } from "../../src/keys/keyStore.js";
import { createRateLimits } from "../../src/limits/rateLimits.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { fakeManager } from "../support/fakeManager.js";

// Each limit the service enforces on a request, at its edge: just inside, the service takes it
// (2xx) and the document allows it; just outside, the service answers 400 and the document
// forbids it. A limit the document lacks, or states differently, fails here.

type Operation =
  | { method: "POST"; path: "/invites/account" | "/invites/group" | "/invites/reset"; body: unknown }
  | { method: "GET" | "POST"; path: "/invites" | "/invites_api"; query: Record<string, string> };
type Edge = readonly [what: string, request: Operation, valid: boolean];

const ids = (n: number, prefix = "g") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const account = (body: unknown): Operation => ({ method: "POST", path: "/invites/account", body });
const group = (body: object): Operation => ({
  method: "POST",
  path: "/invites/group",
  body: { groups: ["team"], ...body },
});
const reset = (body: unknown): Operation => ({ method: "POST", path: "/invites/reset", body });
const list = (query: Record<string, string>): Operation => ({ method: "GET", path: "/invites", query });
const dropIn = (query: Record<string, string>, method: "GET" | "POST" = "GET"): Operation => ({
  method,
  path: "/invites_api",
  query,
});

const EDGES: readonly Edge[] = [
  ["no field", account({}), true],
  ["32 groups", account({ groups: ids(32) }), true],
  ["33 groups", account({ groups: ids(33) }), false],
  ["16 roles", account({ roles: ids(16, "r") }), true],
  ["17 roles", account({ roles: ids(17, "r") }), false],
  ["a group id of 200 characters", account({ groups: ["g".repeat(200)] }), true],
  ["a group id of 201 characters", account({ groups: ["g".repeat(201)] }), false],
  ["an empty group id", account({ groups: [""] }), false],
  ["a role of 201 characters", account({ roles: ["r".repeat(201)] }), false],
  ["a control character in a role", account({ roles: ["a\u0007"] }), false],
  ["groups not a list", account({ groups: "team" }), false],
  ["ttl 1", account({ ttl: 1 }), true],
  ["ttl 0", account({ ttl: 0 }), false],
  ["ttl of 100 years", account({ ttl: 3_153_600_000 }), true],
  ["ttl over 100 years", account({ ttl: 3_153_600_001 }), false],
  ["a fractional ttl", account({ ttl: 1.5 }), false],
  ["ttl as text", account({ ttl: "60" }), false],
  ["a username of 1023 characters", account({ username: "u".repeat(1023) }), true],
  ["a username of 1024 characters", account({ username: "u".repeat(1024) }), false],
  ["a non-ASCII username", account({ username: "jürgen" }), true],
  ["an empty username", account({ username: "" }), false],
  ["a username with a space", account({ username: "a b" }), false],
  ["a username with @", account({ username: "a@b" }), false],
  ["a note of 1000 characters", account({ note: "n".repeat(1000) }), true],
  ["a note of 1001 characters", account({ note: "n".repeat(1001) }), false],
  ["an empty note", account({ note: "" }), true],
  ["a line break in a note", account({ note: "a\nb" }), false],
  ["an unknown field", account({ frobnicate: 1 }), false],
  ["a ref of 200 characters", account({ ref: "r".repeat(200) }), true],
  ["a ref of 201 characters", account({ ref: "r".repeat(201) }), false],
  ["an empty ref", account({ ref: "" }), false],
  ["a line break in a ref", account({ ref: "a\nb" }), false],
  ["a group invite with a ref of 201 characters", group({ ref: "r".repeat(201) }), false],
  ["a group invite", group({}), true],
  ["a group invite without groups", { method: "POST", path: "/invites/group", body: {} }, false],
  ["a group invite with no group", group({ groups: [] }), false],
  ["a group invite into 32 groups", group({ groups: ids(32) }), true],
  ["a group invite into 33 groups", group({ groups: ids(33) }), false],
  ["a group invite of 17 roles", group({ roles: ids(17, "r") }), false],
  ["a group invite of ttl over 100 years", group({ ttl: 3_153_600_001 }), false],
  ["a group invite with a 1001-character note", group({ note: "n".repeat(1001) }), false],
  ["max_uses 1", group({ max_uses: 1 }), true],
  ["max_uses 0", group({ max_uses: 0 }), false],
  ["max_uses 1000000", group({ max_uses: 1_000_000 }), true],
  ["max_uses 1000001", group({ max_uses: 1_000_001 }), false],
  ["a group invite for a username", group({ username: "alice" }), false],
  ["a reset", reset({ username: "alice" }), true],
  ["a reset for nobody", reset({}), false],
  ["a reset for a bad username", reset({ username: "a/b" }), false],
  ["a reset of 100 years", reset({ username: "alice", ttl: 3_153_600_000 }), true],
  ["a reset of over 100 years", reset({ username: "alice", ttl: 3_153_600_001 }), false],
  ["a reset with a note", reset({ username: "alice", note: "x" }), false],
  ["a reset with a ref of 201 characters", reset({ username: "alice", ref: "r".repeat(201) }), false],
  ["limit 1", list({ limit: "1" }), true],
  ["limit 0", list({ limit: "0" }), false],
  ["limit 200", list({ limit: "200" }), true],
  ["limit 201", list({ limit: "201" }), false],
  ["a fractional limit", list({ limit: "1.5" }), false],
  ["limit as a word", list({ limit: "ten" }), false],
  ...["pending", "used", "expired", "revoked"].map((state): Edge => [`state ${state}`, list({ state }), true]),
  ["state bogus", list({ state: "bogus" }), false],
  ["a token cursor", list({ after: "tok1" }), true],
  ["a created.token cursor", list({ after: "1700000000.tok1" }), true],
  ["a cursor of 129 characters", list({ after: "c".repeat(129) }), false],
  ["a cursor with a space", list({ after: "a b" }), false],
  ...(["GET", "POST"] as const).flatMap((method): Edge[] => [
    [`${method} /invites_api`, dropIn({}, method), true],
    [`${method} /invites_api ttl 1`, dropIn({ ttl: "1" }, method), true],
    [`${method} /invites_api ttl 0`, dropIn({ ttl: "0" }, method), false],
    [`${method} /invites_api ttl of ten digits`, dropIn({ ttl: "9999999999" }, method), true],
    [`${method} /invites_api ttl of eleven digits`, dropIn({ ttl: "10000000000" }, method), false],
    [`${method} /invites_api ttl as a word`, dropIn({ ttl: "soon" }, method), false],
    [`${method} /invites_api type account`, dropIn({ type: "account" }, method), true],
    [`${method} /invites_api type bogus`, dropIn({ type: "bogus" }, method), false],
  ]),
  ["a reset by /invites_api", dropIn({ type: "reset", username: "alice" }, "POST"), true],
  [
    "a reset by /invites_api of a 1023-character name",
    dropIn({ type: "reset", username: "u".repeat(1023) }, "POST"),
    true,
  ],
  [
    "a reset by /invites_api of a 1024-character name",
    dropIn({ type: "reset", username: "u".repeat(1024) }, "POST"),
    false,
  ],
  ["a reset by /invites_api of a bad name", dropIn({ type: "reset", username: "a<b" }, "POST"), false],
];

interface Parameter {
  name: string;
  in: string;
  schema: { type?: string };
}
interface Op {
  parameters?: Parameter[];
  requestBody?: { content: { "application/json": { schema: object } } };
}
const doc = openApiDocument as unknown as { paths: Record<string, Record<string, Op>>; components: object };

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ $id: "openapi", components: doc.components });
const compile = (schema: object) =>
  ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/')) as object);

/** What the document says of a request: undefined when it allows it, else why not. */
function documentRefuses(request: Operation): string | undefined {
  const op = doc.paths[request.path]?.[request.method.toLowerCase()];
  assert.ok(op, `the document has no ${request.method} ${request.path}`);
  if ("body" in request) {
    const validate = compile(op.requestBody?.content["application/json"].schema ?? {});
    return validate(request.body) ? undefined : ajv.errorsText(validate.errors);
  }
  for (const [name, text] of Object.entries(request.query)) {
    const parameter = op.parameters?.find((p) => p.name === name && p.in === "query");
    if (!parameter) return `no parameter ${name}`;
    // A query's value is text; a client library writes an integer parameter as its digits.
    const value = parameter.schema.type === "integer" && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
    const validate = compile(parameter.schema);
    if (!validate(value)) return `${name}: ${ajv.errorsText(validate.errors)}`;
  }
  return undefined;
}

describe("the OpenAPI document states every limit the service enforces on a request", () => {
  let server: Server;
  let base: string;
  let key: string;

  before(async () => {
    const keys = createKeyStore(new Keyv());
    const invite = { url: "https://e.test/invite?T", uri: "xmpp:e.test?register;preauth=T", expires: "" };
    server = createHttpApp({
      keys,
      metrics: createMetrics({ xmppOnline: () => true }),
      limits: createRateLimits({ defaultKeyRate: undefined, failureLimit: undefined }),
      issuer: { createAccountInvite: async () => invite, createResetInvite: async () => invite },
      manager: fakeManager().manager,
      log: pino({ level: "silent" }),
      xmppStatus: () => ({ online: true }),
    }).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    key = (await keys.create("e.test", { scopes: ["manage"] })).key;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  async function serviceAnswer(request: Operation): Promise<number> {
    const headers: Record<string, string> = { Authorization: `Bearer ${key}` };
    if ("body" in request) {
      headers["Content-Type"] = "application/json";
      const res = await fetch(`${base}${request.path}`, {
        method: "POST",
        headers,
        body: JSON.stringify(request.body),
      });
      return res.status;
    }
    const query = new URLSearchParams(request.query).toString();
    const res = await fetch(`${base}${request.path}${query ? `?${query}` : ""}`, { method: request.method, headers });
    return res.status;
  }

  it("takes just inside each limit and refuses just outside it, as the document says", async () => {
    const disagreements: string[] = [];
    for (const [what, request, valid] of EDGES) {
      const status = await serviceAnswer(request);
      if (valid ? status < 200 || status > 299 : status !== 400) {
        disagreements.push(`${what}: the service answered ${status}, expected ${valid ? "2xx" : "400"}`);
      }
      const refusal = documentRefuses(request);
      if (valid && refusal) disagreements.push(`${what}: the document refuses it (${refusal})`);
      if (!valid && !refusal) disagreements.push(`${what}: the document allows it`);
    }
    assert.deepEqual(disagreements, []);
  });

  it("has an edge beyond which each documented request field is refused", () => {
    // key and redirect take any text.
    const free = new Set(["/invites_api key", "/invites_api redirect"]);
    const documented = new Set<string>();
    for (const path of ["/invites/account", "/invites/group", "/invites/reset", "/invites", "/invites_api"]) {
      for (const op of Object.values(doc.paths[path] ?? {})) {
        for (const p of op.parameters ?? []) if (p.in === "query") documented.add(`${path} ${p.name}`);
        const body = op.requestBody?.content["application/json"].schema as { $ref?: string } | undefined;
        const name = body?.$ref?.split("/").at(-1) ?? "";
        const schemas = (doc.components as { schemas: Record<string, { properties?: object }> }).schemas;
        for (const field of Object.keys(schemas[name]?.properties ?? {})) documented.add(`${path} ${field}`);
      }
    }
    const refused = new Set(
      EDGES.filter(([, , valid]) => !valid).flatMap(([, request]) =>
        Object.keys("body" in request ? (request.body as object) : request.query).map((f) => `${request.path} ${f}`),
      ),
    );
    assert.deepEqual(
      [...documented].filter((field) => !free.has(field) && !refused.has(field)),
      [],
    );
  });
});
