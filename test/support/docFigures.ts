// The figures the documentation promises, read from the documentation itself: a test holds the
// code to the figure a reader is told, so the two cannot drift apart (issue 25, "green means
// green"). A figure may be stated on any page (README.md, docs/*.md), but the same way wherever.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** The pages that may state a figure. */
const pages = () => [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];

function figure(what: string, pattern: RegExp): number {
  const found = pages().flatMap((page) =>
    [...readFileSync(join(root, page), "utf8").matchAll(new RegExp(pattern, "g"))].map((m) => Number(m[1])),
  );
  if (found.length === 0 || found.some(Number.isNaN)) {
    throw new Error(`the docs no longer state ${what} (nothing matches ${pattern}): state it, or change the test`);
  }
  if (new Set(found).size > 1) throw new Error(`the docs state ${what} differently: ${found.join(", ")}`);
  return found[0]!;
}

/** "`systemd-analyze security invites-api` rates it **1.1 (OK)**" (docs/operations.md): the unit's overall exposure. */
export const statedUnitExposure = () =>
  figure("the systemd unit's exposure score", /`systemd-analyze security\s+invites-api` rates it \*\*(\d+\.\d) /);

/** "The page's JavaScript is at most 20 KB gzipped in all" (docs/admin-page.md): its script budget, in bytes. */
export const statedAdminScriptBudget = () =>
  figure("the admin page's JavaScript budget", /JavaScript is at most (\d+) KB\s+gzipped/) * 1024;

/** "The invite page's script is at most 30 KB gzipped" (docs/invite-page.md): its script budget, in bytes. */
export const statedInvitePageScriptBudget = () =>
  figure("the invite page's script budget", /invite\s+page's\s+script\s+is\s+at\s+most\s+(\d+)\s+KB\s+gzipped/) * 1024;

/**
 * "The invite page's script is at most 30 KB gzipped, and its style sheet at most 10 KB gzipped"
 * (docs/invite-page.md), or "The invite page's style sheet is at most 10 KB gzipped": its CSS budget, in bytes.
 */
export const statedInvitePageStyleBudget = () =>
  figure(
    "the invite page's style sheet budget",
    /invite\s+page's\s+(?:script\s+is\s+at\s+most\s+\d+\s+KB\s+gzipped,\s+and\s+its\s+style\s+sheet|style\s+sheet\s+is)\s+at\s+most\s+(\d+)\s+KB\s+gzipped/,
  ) * 1024;
