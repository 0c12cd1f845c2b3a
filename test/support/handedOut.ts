import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * The end-to-end suite's record of what it was handed (key secrets, invite tokens) and of every log
 * its services and Prosodys wrote, in TEST_LOG_DIR when the suite runs as a whole (npm test); the
 * log scan (test/logs/) then checks that no log line holds any of them. Without TEST_LOG_DIR (one
 * file run by hand) nothing is recorded.
 */
const dir = process.env.TEST_LOG_DIR;

function append(file: string, text: string): void {
  if (!dir || !text) return;
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, file), text);
}

// Invite tokens are mod_invites' ids (base64url); key secrets are 32 or more base64url characters.
const TOKEN_IN_LINK = /(?:preauth=|\?)([A-Za-z0-9_-]{12,})/g;
const KEY = /^[A-Za-z0-9_-]{6,32}\/([A-Za-z0-9_-]{32,128})$/gm;

export function recordSecret(secret: string): void {
  append("handed-out.txt", `${secret}\n`);
}

// A webhook's signing secret, as `webhook add` prints it (Standard Webhooks' whsec_ form).
const WEBHOOK_SECRET = /^whsec_([A-Za-z0-9+/=]{40,})$/gm;

/** Every key secret in the output of the CLI's `create`, every signing secret of `webhook add`. */
export function recordKeysIn(stdout: string): void {
  for (const match of stdout.matchAll(KEY)) recordSecret(match[1] ?? "");
  for (const match of stdout.matchAll(WEBHOOK_SECRET)) recordSecret(match[1] ?? "");
}

/** Every invite token in a link, a URI or an invite's JSON. */
export function recordTokensIn(text: string): void {
  for (const match of text.matchAll(TOKEN_IN_LINK)) recordSecret(match[1] ?? "");
  for (const match of text.matchAll(/"id":"([A-Za-z0-9_-]{12,})"/g)) recordSecret(match[1] ?? "");
}

export function recordLog(name: string, text: string): void {
  append(`${name}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.log`, text);
}
