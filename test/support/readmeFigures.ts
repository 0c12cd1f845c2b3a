// The figures the README promises, read from the README itself: a test holds the code to the
// figure a reader is told, so the two cannot drift apart (issue 25, "green means green").
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const README = fileURLToPath(new URL("../../README.md", import.meta.url));

function figure(what: string, pattern: RegExp): number {
  const text = readFileSync(README, "utf8");
  const found = [...text.matchAll(new RegExp(pattern, "g"))].map((m) => Number(m[1]));
  if (found.length === 0 || found.some(Number.isNaN)) {
    throw new Error(`the README no longer states ${what} (nothing matches ${pattern}): state it, or change the test`);
  }
  if (new Set(found).size > 1) throw new Error(`the README states ${what} differently: ${found.join(", ")}`);
  return found[0]!;
}

/** "`systemd-analyze security invites-api` rates it **1.1 (OK)**": the unit's overall exposure. */
export const statedUnitExposure = () =>
  figure("the systemd unit's exposure score", /`systemd-analyze security\s+invites-api` rates it \*\*(\d+\.\d) /);

/** "The page's JavaScript is at most 20 KB gzipped in all": the admin page's script budget, in bytes. */
export const statedAdminScriptBudget = () =>
  figure("the admin page's JavaScript budget", /JavaScript is at most (\d+) KB\s+gzipped/) * 1024;
