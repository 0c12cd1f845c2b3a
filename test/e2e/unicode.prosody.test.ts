import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MANAGE_MODULES } from "../support/prosody.js";
import { createKey, withStack } from "../support/stack.js";

// Property: whatever Unicode a client puts in whatever field of whatever route, the answer is
// never a 5xx and the component's stream to a real Prosody stays up (Prosody closes the stream of
// whoever sends a character XML forbids, so one such character reaching a stanza would show here).
const HOST = "unicode.test";
const COMPONENT = { domain: "invites.unicode.test", secret: "unicode-secret" };
const RUNS = 250;
const on13 = process.env.PROSODY_VERSION === "13";

// Any code unit sequence: lone surrogates, U+FFFE/U+FFFF, controls, astral characters; and some
// values that are valid where they go, so that requests also reach Prosody.
const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("\uFFFF", "\uFFFE", "\uD800", "\uDFFF", "\u0000", "\u001B", "ok", "team", "alice", "prosody:member"),
);

// Query values as bytes: a string's UTF-8 (lone surrogates become U+FFFD) or raw bytes, any of them.
const queryValue = fc.oneof(
  text.map((value) => encodeURIComponent(Buffer.from(value, "utf8").toString("utf8"))),
  fc
    .uint8Array({ maxLength: 12 })
    .map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("")),
);

type Request = { path: string; method: string; json?: unknown; expect?: number };

// A ttl as JSON gives it: whole numbers in and out of range, fractions, and text.
const ttl = fc.oneof(fc.integer(), fc.double(), text);

// Requests that must succeed, a sixth of the mix: random text is mostly refused before Prosody,
// and the property must also cover what Prosody answers.
const valid: fc.Arbitrary<Request> = fc
  .record({ note: fc.string({ unit: "grapheme-ascii", maxLength: 40 }), groups: fc.constant(["team"]) })
  .map((json) => ({ path: "/invites/account", method: "POST", json, expect: 201 }));

const requests: fc.Arbitrary<Request> = fc.oneof(
  valid,
  fc
    .record(
      {
        username: text,
        ttl,
        note: text,
        groups: fc.array(text, { maxLength: 4 }),
        roles: fc.array(text, { maxLength: 3 }),
      },
      { requiredKeys: [] },
    )
    .map((json) => ({ path: "/invites/account", method: "POST", json })),
  fc
    .record(
      {
        ttl,
        note: text,
        groups: fc.array(text, { minLength: 1, maxLength: 4 }),
        roles: fc.array(text, { maxLength: 3 }),
        max_uses: fc.oneof(fc.integer(), text),
      },
      { requiredKeys: ["groups"] },
    )
    .map((json) => ({ path: "/invites/group", method: "POST", json })),
  fc
    .record({ username: text, ttl }, { requiredKeys: ["username"] })
    .map((json) => ({ path: "/invites/reset", method: "POST", json })),
  fc
    .tuple(fc.oneof(fc.constantFrom("pending", "used", "expired", "revoked"), queryValue), queryValue, queryValue)
    .map(([state, limit, after]) => ({ path: `/invites?state=${state}&limit=${limit}&after=${after}`, method: "GET" })),
  fc
    .tuple(fc.constantFrom("used", "expired", "revoked"), fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/))
    .map(([state, after]) => ({ path: `/invites?state=${state}&after=${after}`, method: "GET" })),
  fc.tuple(queryValue, fc.constantFrom("GET", "DELETE")).map(([id, method]) => ({ path: `/invites/${id}`, method })),
  queryValue.map((jid) => ({ path: `/accounts/${jid}/invite`, method: "GET" })),
  fc
    .tuple(fc.oneof(fc.constantFrom("account", "reset"), queryValue), queryValue, queryValue, queryValue)
    .map(([type, username, ttlValue, redirect]) => ({
      path: `/invites_api?type=${type}&username=${username}&ttl=${ttlValue}&redirect=${redirect}`,
      method: "POST",
    })),
);

describe("random Unicode in every field of every route, against a real Prosody", () => {
  it(`${RUNS} requests: no 5xx, and the component never loses its stream`, async () => {
    await withStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: MANAGE_MODULES } },
        extra: [`invites_manage_jids = { "${COMPONENT.domain}" }`, `invites_manage_groups = { team = "Team" }`].join(
          "\n",
        ),
      },
      { component: COMPONENT, env: { DEFAULT_KEY_RATE: "off", MANAGE_RATE: "off" } },
      async ({ service, keyStore }) => {
        const key = await createKey(keyStore, HOST, "everything", "--scope", "manage");
        const connects = () => service.lines.filter((line) => line.msg === "connected to Prosody").length;
        const before = connects();
        let reachedProsody = 0;
        await fc.assert(
          fc.asyncProperty(requests, async ({ path, method, json, expect }) => {
            const res = await fetch(`${service.url}${path}`, {
              method,
              headers: {
                Authorization: `Bearer ${key}`,
                Accept: "application/json",
                ...(json === undefined ? {} : { "Content-Type": "application/json" }),
              },
              ...(json === undefined ? {} : { body: JSON.stringify(json) }),
              redirect: "manual",
            });
            const body = await res.text();
            // 0.12 has no roles: valid role names get the documented 501 saying so; nothing else may.
            const noRoles = !on13 && res.status === 501 && /roles need Prosody 13/.test(body);
            assert.ok(res.status < 500 || noRoles, `${method} ${path} ${JSON.stringify(json)}: ${res.status} ${body}`);
            if (expect) assert.equal(res.status, expect, `${method} ${path} ${JSON.stringify(json)}: ${body}`);
            if (res.status < 300) reachedProsody += 1;
            // A stream Prosody closed shows as a reconnection in the service's log.
            assert.equal(
              connects(),
              before,
              `the component reconnected after ${method} ${path} ${JSON.stringify(json)}`,
            );
          }),
          { numRuns: RUNS, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
        );
        // The property also covered requests Prosody answered, not only the service's refusals.
        assert.ok(reachedProsody > 0, "some requests reached Prosody");
        const metrics = await (await fetch(`${service.url}/metrics`)).text();
        assert.match(metrics, /^invites_api_xmpp_connected 1$/m);
      },
    );
  });
});
