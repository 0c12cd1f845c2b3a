import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { openApiDocument } from "../../src/http/openapi.js";

// What /openapi.json serves is checked against Redocly's recommended ruleset, the lint most
// OpenAPI tooling applies: warnings count as failures too.
// The OAuth sign-in's two steps are browser navigations that always answer a redirect (to Prosody,
// back to the page, or to the page with #sign-in-error=CODE): they have no 2xx to document.
const NAVIGATIONS: ReadonlySet<string> = new Set([
  "#/paths/~1session~1oauth/get/responses",
  "#/paths/~1session~1oauth~1callback/get/responses",
]);

describe("the OpenAPI document", () => {
  it("has no problem under Redocly's recommended ruleset", async () => {
    const problems = await lintFromString({
      source: JSON.stringify(openApiDocument),
      absoluteRef: "openapi.json",
      config: await createConfig({ extends: ["recommended"] }),
    });
    assert.deepEqual(
      problems
        .filter((p) => !(p.ruleId === "operation-2xx-response" && NAVIGATIONS.has(p.location[0]?.pointer ?? "")))
        .map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? "?"}`),
      [],
    );
  });
});
