import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it, type TestContext } from "node:test";
import { loadInviteAssets } from "../../src/invitePage/assets.js";
import { statedInvitePageScriptBudget, statedInvitePageStyleBudget } from "../support/docFigures.js";

// The invite page's weight (issue 28: "JavaScript ≤ 30 KB gzipped"), held to the budgets
// docs/invite-page.md states. The page links one script and one style sheet and loads nothing else.

/** Where `npm run build` puts the page's files (scripts/buildInvitePage.ts), and the package ships them from. */
const BUILT = fileURLToPath(new URL("../../dist/invitePage/assets/", import.meta.url));

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** Every built file ending in `ext`, gzipped as the service sends it (loadInviteAssets is what it serves them with). */
function sentGzipped(t: TestContext, what: string, ext: string, budget: number): void {
  const files = [...loadInviteAssets(BUILT).files].filter(([name]) => name.endsWith(ext));
  assert.equal(files.length, 1, `one ${ext} file: ${files.map(([name]) => name).join(", ")}`);
  const total = files.reduce((sum, [, file]) => sum + file.gzipped.length, 0);
  t.diagnostic(`invite page ${what}: ${kb(total)} gzipped (at most ${kb(budget)})`);
  assert.ok(total > 300, `${total} bytes: not the page's ${what}`);
  assert.ok(
    total <= budget,
    `${kb(total)} gzipped, above the docs' ${kb(budget)}: ` +
      files.map(([name, file]) => `${name} ${kb(file.gzipped.length)}`).join(", "),
  );
}

describe("the invite page's weight, as the service sends it", () => {
  it("sends at most the docs' budget of script gzipped", (t) => {
    sentGzipped(t, "script", ".js", statedInvitePageScriptBudget());
  });

  it("sends at most the docs' budget of style sheet gzipped", (t) => {
    sentGzipped(t, "style sheet", ".css", statedInvitePageStyleBudget());
  });
});
