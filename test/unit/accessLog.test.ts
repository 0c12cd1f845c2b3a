import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { redactUrl } from "../../src/http/accessLog.js";

describe("access log URL redaction", () => {
  it("hides the value of every key parameter, wherever it stands", () => {
    assert.equal(redactUrl("/invites_api?key=abcdefgh/SECRET"), "/invites_api?key=[redacted]");
    assert.equal(
      redactUrl("/invites_api?redirect=1&key=a/b&key=c/d"),
      "/invites_api?redirect=1&key=[redacted]&key=[redacted]",
    );
    assert.equal(redactUrl("/invites_api?KEY=a/b#x"), "/invites_api?KEY=[redacted]");
  });

  it("hides keys in any spelling a parser might still read as a key", () => {
    assert.equal(redactUrl("/invites_api?key[]=a/SECRET"), "/invites_api?key[]=[redacted]");
    assert.equal(redactUrl("/invites_api?%6Bey=a/SECRET"), "/invites_api?%6Bey=[redacted]");
    assert.equal(redactUrl("/invites_api?%=a/SECRET&%ZZ=b"), "/invites_api?%=[redacted]&%ZZ=[redacted]");
  });

  it("keeps the values of redirect and type, and the path", () => {
    assert.equal(
      redactUrl("/invites_api?type=reset&username=alice&redirect"),
      "/invites_api?type=reset&username=[redacted]&redirect",
    );
    assert.equal(redactUrl("/health"), "/health");
  });
});
