import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadServiceConfig } from "../../src/config.js";

const minimal = {
  COMPONENT_SERVICE: "xmpp://127.0.0.1:5347",
  COMPONENT_DOMAIN: "invites.example.com",
  COMPONENT_SECRET: "s",
};

describe("configuration of people's sign-in (issue 29)", () => {
  it("is off without PUBLIC_URL, with the documented defaults", () => {
    const config = loadServiceConfig(minimal);
    assert.equal(config.publicUrl, undefined);
    assert.deepEqual(config.sessions, { lifetimeMs: 12 * 3_600_000, idleMs: 30 * 60_000 });
    assert.deepEqual(config.signInLink, {
      ttlMs: 5 * 60_000,
      accountRate: { points: 3, durationSeconds: 900 },
      addressRate: { points: 10, durationSeconds: 900 },
    });
  });

  it("takes an https PUBLIC_URL, without its trailing slash, a path kept", () => {
    const at = (PUBLIC_URL: string) => loadServiceConfig({ ...minimal, PUBLIC_URL }).publicUrl;
    assert.equal(at("https://invites.example.com/"), "https://invites.example.com");
    assert.equal(at("https://Invites.Example.com:8443/svc/"), "https://invites.example.com:8443/svc");
    assert.equal(at("https://invites.example.com:443"), "https://invites.example.com");
  });

  it("takes plain http only on a loopback host", () => {
    const at = (PUBLIC_URL: string) => loadServiceConfig({ ...minimal, PUBLIC_URL }).publicUrl;
    assert.equal(at("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    assert.equal(at("http://localhost:8080/"), "http://localhost:8080");
    assert.equal(at("http://[::1]:8080"), "http://[::1]:8080");
    for (const url of ["http://invites.example.com", "http://10.0.0.1:8080", "http://127.0.0.1.example.com"]) {
      assert.throws(() => at(url), /PUBLIC_URL must be https:\/\//, url);
    }
  });

  it("refuses a PUBLIC_URL that is not an http(s) origin, without repeating it", () => {
    for (const url of [
      "invites.example.com",
      "ftp://invites.example.com",
      "https://user:secret-pass@invites.example.com",
      "https://invites.example.com/?a=b",
      "https://invites.example.com/#x",
    ]) {
      assert.throws(
        () => loadServiceConfig({ ...minimal, PUBLIC_URL: url }),
        (err: Error) => /PUBLIC_URL/.test(err.message) && !err.message.includes("secret-pass"),
        url,
      );
    }
  });

  it("reads the durations and rates, off turns a rate off, a bad value names its variable", () => {
    const config = loadServiceConfig({
      ...minimal,
      SESSION_LIFETIME: "1d",
      SESSION_IDLE: "2h",
      SIGN_IN_LINK_TTL: "90s",
      SIGN_IN_ACCOUNT_RATE: "off",
      SIGN_IN_ADDRESS_RATE: "5/1h",
    });
    assert.deepEqual(config.sessions, { lifetimeMs: 86_400_000, idleMs: 7_200_000 });
    assert.deepEqual(config.signInLink, {
      ttlMs: 90_000,
      accountRate: undefined,
      addressRate: { points: 5, durationSeconds: 3_600 },
    });
    assert.throws(() => loadServiceConfig({ ...minimal, SESSION_IDLE: "30s" }), /SESSION_IDLE expected a duration/);
    assert.throws(() => loadServiceConfig({ ...minimal, SESSION_LIFETIME: "90d" }), /SESSION_LIFETIME/);
    assert.throws(() => loadServiceConfig({ ...minimal, SIGN_IN_LINK_TTL: "2h" }), /SIGN_IN_LINK_TTL/);
    assert.throws(() => loadServiceConfig({ ...minimal, SIGN_IN_ACCOUNT_RATE: "lots" }), /SIGN_IN_ACCOUNT_RATE/);
    assert.throws(
      () => loadServiceConfig({ ...minimal, SESSION_LIFETIME: "1h", SESSION_IDLE: "2h" }),
      /SESSION_IDLE must be at most SESSION_LIFETIME/,
    );
  });
});
