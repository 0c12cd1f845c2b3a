import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadServiceConfig, loadStoreConfig } from "../../src/config.js";

const minimal = {
  COMPONENT_SERVICE: "xmpp://127.0.0.1:5347",
  COMPONENT_DOMAIN: "invites.example.com",
  COMPONENT_SECRET: "s",
};

describe("configuration", () => {
  it("applies defaults and freezes the result", () => {
    const config = loadServiceConfig(minimal);
    assert.equal(config.http.port, 8080);
    assert.equal(config.http.host, "127.0.0.1");
    assert.equal(config.keyStore, "./data/keys.sqlite");
    assert.equal(config.inviteTimeoutMs, 10_000);
    assert.ok(Object.isFrozen(config));
  });

  it("names the variable that is wrong", () => {
    assert.throws(() => loadServiceConfig({ ...minimal, HTTP_PORT: "eighty" }), /HTTP_PORT/);
    assert.throws(() => loadServiceConfig({ ...minimal, COMPONENT_SERVICE: "http://x" }), /COMPONENT_SERVICE/);
    assert.throws(() => loadServiceConfig({ ...minimal, LOG_LEVEL: "loud" }), /LOG_LEVEL/);
    assert.throws(() => loadServiceConfig({ ...minimal, COMPONENT_DOMAIN: undefined }), /COMPONENT_DOMAIN is required/);
  });

  it("reads the secret from COMPONENT_SECRET_FILE, and refuses both or neither", () => {
    const file = join(mkdtempSync(join(tmpdir(), "cfg-")), "secret");
    writeFileSync(file, "from-file\n");
    const { COMPONENT_SECRET: _unused, ...withoutSecret } = minimal;
    assert.equal(loadServiceConfig({ ...withoutSecret, COMPONENT_SECRET_FILE: file }).component.secret, "from-file");
    assert.throws(() => loadServiceConfig({ ...minimal, COMPONENT_SECRET_FILE: file }), ConfigError);
    assert.throws(() => loadServiceConfig(withoutSecret), /COMPONENT_SECRET/);
    assert.throws(
      () => loadServiceConfig({ ...withoutSecret, COMPONENT_SECRET_FILE: "/nonexistent" }),
      /cannot be read/,
    );
  });

  it("ADMIN_PAGE: on by default, off turns the page off, anything else names the variable", () => {
    assert.equal(loadServiceConfig(minimal).adminPage, true);
    assert.equal(loadServiceConfig({ ...minimal, ADMIN_PAGE: "off" }).adminPage, false);
    assert.equal(loadServiceConfig({ ...minimal, ADMIN_PAGE: "on" }).adminPage, true);
    assert.throws(() => loadServiceConfig({ ...minimal, ADMIN_PAGE: "yes" }), /ADMIN_PAGE expected on or off/);
  });

  it("needs nothing of XMPP for the key commands", () => {
    assert.equal(loadStoreConfig({ KEY_STORE: "/tmp/k.sqlite" }).keyStore, "/tmp/k.sqlite");
  });
});
