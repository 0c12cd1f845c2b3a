// The systemd unit's hardening, held to the score docs/operations.md gives it: `systemd-analyze security`
// rates packaging/systemd/invites-api.service from the file alone, no container and no systemd
// running. test/systemd rates it again as a booted systemd loaded it.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import { statedUnitExposure } from "../support/docFigures.js";
import { rateUnitFile, UNIT_FILE } from "../support/systemdSecurity.js";

describe("the systemd unit's exposure in systemd-analyze security", () => {
  it("is at most the figure the docs state", async (t) => {
    const stated = statedUnitExposure();
    const { exposure, report } = await rateUnitFile(UNIT_FILE);
    t.diagnostic(`systemd-analyze security --offline: ${exposure.toFixed(1)} (the docs say ${stated.toFixed(1)})`);
    // What it counts against the unit: the lines it marks ✗.
    const against = report.split("\n").filter((line) => !line.startsWith("✓"));
    assert.ok(
      exposure <= stated,
      `rated ${exposure.toFixed(1)}, above the docs' ${stated.toFixed(1)}:\n${against.join("\n")}`,
    );
  });

  it("goes above that figure without the unit's sandboxing, so the check above can fail", async () => {
    // The same unit less five of its lines: its own users, a read-only system, no homes, its own
    // /tmp and devices. (That copy rates 2.0, which the container test's old "2.0 or lower" passed.)
    const weakened = readFileSync(UNIT_FILE, "utf8").replace(
      /^(PrivateUsers|ProtectSystem|ProtectHome|PrivateTmp|PrivateDevices)=.*\n/gm,
      "",
    );
    const dir = mkdtempSync(join(tmpdir(), "invites-api-unit-"));
    try {
      const copy = join(dir, basename(UNIT_FILE));
      writeFileSync(copy, weakened);
      const { exposure } = await rateUnitFile(copy);
      assert.ok(exposure > statedUnitExposure(), `the weakened copy rated ${exposure.toFixed(1)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
