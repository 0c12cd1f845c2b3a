import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatKey, generateKey, hashSecret, parseKey, secretMatches } from "../../src/keys/apiKey.js";

describe("API keys", () => {
  it("generates ID/SECRET in the original's shape from random bytes", () => {
    const a = generateKey();
    const b = generateKey();
    assert.match(formatKey(a), /^[A-Za-z0-9_-]{8}\/[A-Za-z0-9_-]{32}$/);
    assert.notEqual(a.secret, b.secret);
    assert.notEqual(a.id, b.id);
  });

  it("parses a well-formed key and round-trips", () => {
    const key = generateKey();
    assert.deepEqual(parseKey(formatKey(key)), key);
  });

  for (const [label, raw] of [
    ["nothing", undefined],
    ["empty", ""],
    ["no slash", "abcdefgh"],
    ["empty id", `/${"a".repeat(32)}`],
    ["empty secret", "abcdefgh/"],
    ["short id", `abc/${"a".repeat(32)}`],
    ["short secret", "abcdefgh/short"],
    ["non-ASCII", `abcdefgh/${"é".repeat(32)}`],
    ["two slashes", `abcdefgh/${"a".repeat(16)}/${"a".repeat(16)}`],
    ["very long", `abcdefgh/${"a".repeat(10_000)}`],
    ["spaces", `abcdefgh/${"a".repeat(31)} `],
  ] as const) {
    it(`rejects a key that is ${label}`, () => assert.equal(parseKey(raw), undefined));
  }

  it("matches a secret only against its own hash", () => {
    const { secret } = generateKey();
    const stored = hashSecret(secret);
    assert.equal(stored.length, 64);
    assert.equal(stored.includes(secret), false);
    assert.equal(secretMatches(secret, stored), true);
    assert.equal(secretMatches(generateKey().secret, stored), false);
    assert.equal(secretMatches(secret, undefined), false);
  });
});
