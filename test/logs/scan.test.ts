import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

// Runs after both end-to-end runs (npm test): every key secret and invite token the suite was
// handed, searched for in every log line its services and Prosodys wrote (test/support/handedOut.ts).
const dir = process.env.TEST_LOG_DIR;

describe("no token or secret in any log line of the end-to-end suite", () => {
  it("scans every service and Prosody log line for every secret and token handed out", () => {
    assert.ok(dir, "TEST_LOG_DIR names the folder the end-to-end runs recorded into");
    const files = readdirSync(dir);
    const secrets = [
      ...new Set(
        readFileSync(join(dir, "handed-out.txt"), "utf8")
          .split("\n")
          .filter((s) => s.length >= 12),
      ),
    ];
    const logs = files.filter((f) => f.endsWith(".log"));
    const lines = logs.flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .split("\n")
        .map((line) => ({ file: f, line })),
    );
    // Not vacuous: the suite hands out hundreds of both and both kinds of log are there.
    assert.ok(secrets.length > 100, `only ${secrets.length} secrets recorded`);
    assert.ok(logs.some((f) => f.startsWith("service-")) && logs.some((f) => f.startsWith("prosody-")));
    assert.ok(lines.length > 5_000, `only ${lines.length} log lines recorded`);
    // Each base64url run of a line, and the same without a leading percent-escape's hex (`%2F…`).
    const known = new Set(secrets);
    const holds = (line: string) =>
      line.split(/[^A-Za-z0-9_-]+/).some((word) => known.has(word) || known.has(word.slice(2)));
    // Prosody's own mod_invites logs, at debug, a token it refuses (unknown or expired: one that no
    // longer registers anyone). That line is Prosody's, not ours; production logs at info.
    const refusedByProsody = /\tdebug\tGot (?:unknown|expired) token: /;
    const leaks = lines.filter(({ line }) => !refusedByProsody.test(line) && holds(line));
    // What leaked, never the secret itself: the file and where in the line.
    const where = leaks.slice(0, 5).map(({ file, line }) => {
      const secret = secrets.find((s) => line.includes(s)) ?? "";
      return `${file}: …${line.slice(Math.max(0, line.indexOf(secret) - 80), line.indexOf(secret))}[secret]`;
    });
    assert.equal(leaks.length, 0, `${leaks.length} log lines hold a secret or token:\n${where.join("\n")}`);
  });
});
