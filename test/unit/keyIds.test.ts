import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateKey } from "../../src/keys/apiKey.js";

describe("key ids", () => {
  it("never begin with '-', even when the random bytes say so", () => {
    // 0xf8 is 111110xx: base64url's first character is then index 62, "-".
    const draws = [
      Buffer.alloc(6, 0xf8),
      Buffer.alloc(6, 0xfb),
      Buffer.from([0x00, 1, 2, 3, 4, 5]),
      Buffer.alloc(24, 7),
    ];
    const seen: number[] = [];
    const key = generateKey((size) => {
      seen.push(size);
      return draws.shift() ?? Buffer.alloc(size, 9);
    });
    assert.equal(Buffer.alloc(6, 0xf8).toString("base64url")[0], "-", "the draw really begins with -");
    assert.equal(key.id, Buffer.from([0x00, 1, 2, 3, 4, 5]).toString("base64url"));
    assert.deepEqual(seen, [6, 6, 6, 24]);
  });

  it("are 8 url-safe characters that never begin with '-', over many draws", () => {
    for (let i = 0; i < 20_000; i += 1) assert.match(generateKey().id, /^[A-Za-z0-9_][A-Za-z0-9_-]{7}$/);
  });
});
