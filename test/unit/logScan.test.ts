import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { logLines, scanLines, type Secret } from "../logs/scan.js";

// The log scan (test/logs/) on lines made here: what it must find, and what it must pass over.
// 32 bytes whose base64 holds `+` and `/`, and ends in `=`, as Standard Webhooks' secrets may.
const body = Buffer.concat([Buffer.from([0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff]), randomBytes(26)]).toString("base64");
const whsec = `whsec_${body}`;
const secrets: Secret[] = [
  { kind: "webhook signing secret", value: whsec },
  { kind: "webhook signing secret", value: body },
  { kind: "API key secret", value: randomBytes(24).toString("base64url") },
];

const kindsIn = (...texts: string[]) =>
  scanLines(secrets, logLines("service-1.log", texts.join("\n"))).map((leak) => [leak.line, leak.kind]);

describe("the log scan", () => {
  it("is given a whsec_ secret with +, / and =", () => {
    assert.match(body, /^\+\+\+\+\/\/\/\/.*=$/);
  });

  it("finds a whsec_ secret written as it is, in JSON, percent-encoded or with \\/ escapes", () => {
    assert.deepEqual(
      kindsIn(
        JSON.stringify({ level: 30, msg: "webhook added", secret: whsec }),
        `delivering with key=${body};`,
        `GET /hook?secret=${encodeURIComponent(whsec)}`,
        `GET /hook?secret=${encodeURIComponent(body).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())}`,
        `{"secret":"${whsec.replaceAll("/", "\\/")}"}`,
      ),
      [1, 2, 3, 4, 5].map((line) => [line, "webhook signing secret"]),
    );
  });

  it("finds a secret inside a longer run of its own alphabet", () => {
    const key = secrets[2]?.value ?? "";
    assert.deepEqual(kindsIn(`Authorization: Bearer AbC12345/${key}xyz`), [[1, "API key secret"]]);
  });

  it("passes over lines with no whole secret, and says where a leak is without the secret", () => {
    assert.deepEqual(kindsIn("nothing here", `truncated ${whsec.slice(0, 30)}`, body.slice(1)), []);
    const [leak] = scanLines(secrets, logLines("service-1.log", `first\nsecond line: ${whsec} and more`));
    assert.deepEqual(leak, { file: "service-1.log", line: 2, kind: "webhook signing secret", before: "second line: " });
  });

  it("passes over the token in Prosody's own 'Got unknown token' debug line, and only there", () => {
    const token: Secret = { kind: "invite token", value: "AbCdEfGhIjKlMnOp" };
    const line = `Dec 06 12:00:00 hooks.test:invites\tdebug\tGot unknown token: ${token.value}`;
    assert.deepEqual(scanLines([token], logLines("prosody-1.log", line)), []);
    assert.equal(scanLines([token], logLines("service-1.log", line)).length, 1);
    const info = line.replace("\tdebug\t", "\tinfo\t");
    assert.equal(scanLines([token], logLines("prosody-1.log", info)).length, 1);
  });
});
