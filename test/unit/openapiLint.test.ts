import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { openApiDocument } from "../../src/http/openapi.js";

// What /openapi.json serves is checked against Redocly's recommended ruleset, the lint most
// OpenAPI tooling applies: warnings count as failures too.
describe("the OpenAPI document", () => {
  it("has no problem under Redocly's recommended ruleset", async () => {
    const problems = await lintFromString({
      source: JSON.stringify(openApiDocument),
      absoluteRef: "openapi.json",
      config: await createConfig({ extends: ["recommended"] }),
    });
    assert.deepEqual(
      problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? "?"}`),
      [],
    );
  });
});
