import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { HANDED_OUT_FILE, SECRET_CLASSES, type SecretClass } from "../support/handedOut.js";
import { logLines, MIN_SECRET_LENGTH, scanLines, type Leak, type LogLine, type Secret } from "./scan.js";

// Runs after both end-to-end runs (npm test): every secret the suite was handed or configured (key
// secrets, invite tokens, webhook signing secrets, component secrets, store passwords; recorded by
// test/support/handedOut.ts), searched for in every log line its services and Prosodys wrote.
const dir = process.env.TEST_LOG_DIR;

function recorded(): Secret[] {
  assert.ok(dir, "TEST_LOG_DIR names the folder the end-to-end runs recorded into");
  const seen = new Set<string>();
  const secrets: Secret[] = [];
  for (const line of readFileSync(join(dir, HANDED_OUT_FILE), "utf8").split("\n")) {
    if (!line || seen.has(line)) continue;
    seen.add(line);
    const [kind, value] = JSON.parse(line) as [SecretClass, string];
    secrets.push({ kind, value });
  }
  return secrets;
}

/** What leaked, never the secret itself: the file, the line, the class and what came before it. */
const described = (leaks: readonly Leak[]): string =>
  leaks
    .slice(0, 10)
    .map((leak) => `${leak.file}:${leak.line}: a ${leak.kind} after …${leak.before}`)
    .join("\n");

/** A secret planted the ways it would leak: inside JSON, after `=`, percent-encoded in a URL. */
const planted = (kind: SecretClass, secret: string): LogLine[] =>
  [
    JSON.stringify({ level: 20, msg: "request", headers: { authorization: `Bearer ${secret}` } }),
    `Dec 06 12:00:00 mod_something\tinfo\tconfigured with secret=${secret} for ${kind}`,
    JSON.stringify({ level: 30, msg: "fetch", url: `http://127.0.0.1:1/cb?s=${encodeURIComponent(secret)}&x=1` }),
  ].map((text, i) => ({ file: "planted.log", number: i + 1, text }));

describe("no secret in any log line of the end-to-end suite", () => {
  const secrets = recorded();
  const searchable = secrets.filter((s) => s.value.length >= MIN_SECRET_LENGTH);

  it("has recorded secrets of every class the suite hands out", () => {
    for (const kind of SECRET_CLASSES) {
      assert.ok(
        searchable.some((s) => s.kind === kind),
        `no ${kind} recorded: a test stopped recording what it hands out`,
      );
    }
  });

  it("finds a planted secret of every class, in JSON, after `=` and percent-encoded", () => {
    for (const kind of SECRET_CLASSES) {
      // The longest of its class: for webhooks, a whsec_ secret with its +, / and =.
      const secret = searchable.filter((s) => s.kind === kind).sort((a, b) => b.value.length - a.value.length)[0];
      assert.ok(secret, `no ${kind} to plant`);
      const lines = planted(kind, secret.value);
      const leaks = scanLines(secrets, lines);
      assert.deepEqual(
        leaks.map((leak) => [leak.line, leak.kind]),
        lines.map((line) => [line.number, kind]),
        `the scan missed a planted ${kind}`,
      );
    }
  });

  it("scans every service and Prosody log line for every secret", () => {
    assert.ok(dir);
    const logs = readdirSync(dir).filter((f) => f.endsWith(".log"));
    const lines = logs.flatMap((f) => logLines(f, readFileSync(join(dir, f), "utf8")));
    // Not vacuous: the suite hands out hundreds of secrets and both kinds of log are there.
    assert.ok(searchable.length > 100, `only ${searchable.length} secrets recorded`);
    assert.ok(logs.some((f) => f.startsWith("service-")) && logs.some((f) => f.startsWith("prosody-")));
    assert.ok(lines.length > 5_000, `only ${lines.length} log lines recorded`);
    const started = Date.now();
    const leaks = scanLines(secrets, lines);
    console.log(`scanned ${lines.length} lines for ${searchable.length} secrets in ${Date.now() - started} ms`);
    assert.equal(leaks.length, 0, `${leaks.length} log lines hold a secret:\n${described(leaks)}`);
  });
});
