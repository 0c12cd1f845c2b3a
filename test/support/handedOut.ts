import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * The end-to-end suite's record of every secret it was handed or configured, by class, and of every
 * log its services and Prosodys wrote, in TEST_LOG_DIR when the suite runs as a whole (npm test); the
 * log scan (test/logs/) then checks that no log line holds any of them. Without TEST_LOG_DIR (one
 * file run by hand) nothing is recorded.
 */
const dir = process.env.TEST_LOG_DIR;

/** The classes of secret the suite hands out; the log scan needs at least one of each. */
export const SECRET_CLASSES = [
  "API key secret",
  "invite token",
  "webhook signing secret",
  "component secret",
  "store password",
  // Set through the invite page's door (test/e2e/inviteDoor.prosody.test.ts).
  "account password",
  // People's sign-in (test/e2e/signInLink.prosody.test.ts): a link's token, a session's cookie.
  "sign-in token",
  "session cookie",
] as const;
export type SecretClass = (typeof SECRET_CLASSES)[number];

/** One JSON line per secret: `["class", "secret"]`, whatever characters the secret holds. */
export const HANDED_OUT_FILE = "handed-out.jsonl";

function append(file: string, text: string): void {
  if (!dir || !text) return;
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, file), text);
}

export function recordSecret(kind: SecretClass, secret: string): void {
  if (secret) append(HANDED_OUT_FILE, `${JSON.stringify([kind, secret])}\n`);
}

// Invite tokens are mod_invites' ids (base64url); key secrets are 32 or more base64url characters.
const TOKEN_IN_LINK = /(?:preauth=|\?)([A-Za-z0-9_-]{12,})/g;
const KEY = /^[A-Za-z0-9_-]{6,32}\/([A-Za-z0-9_-]{32,128})$/gm;
// A webhook's signing secret, as `webhook add` prints it (Standard Webhooks' whsec_ form).
const WEBHOOK_SECRET = /^whsec_([A-Za-z0-9+/=]{40,})$/gm;

/** A webhook's signing secret: whole, as printed, and its base64 body, which is what signs. */
export function recordWebhookSecret(secret: string): void {
  recordSecret("webhook signing secret", secret);
  recordSecret("webhook signing secret", secret.replace(/^whsec_/, ""));
}

/**
 * Every key in the output of the CLI's `create` (or prosodyctl mod_invites_api's), whole and its
 * secret, and every signing secret of `webhook add`.
 */
export function recordKeysIn(stdout: string): void {
  for (const match of stdout.matchAll(KEY)) {
    recordSecret("API key secret", match[0]);
    recordSecret("API key secret", match[1] ?? "");
  }
  for (const match of stdout.matchAll(WEBHOOK_SECRET)) recordWebhookSecret(match[0]);
}

/** Every invite token in a link, a URI or an invite's JSON. */
export function recordTokensIn(text: string): void {
  for (const match of text.matchAll(TOKEN_IN_LINK)) recordSecret("invite token", match[1] ?? "");
  for (const match of text.matchAll(/"id":"([A-Za-z0-9_-]{12,})"/g)) recordSecret("invite token", match[1] ?? "");
}

/**
 * The secrets in an environment the service or the CLI is given: the component secret, and the
 * passwords in a KEY_STORE URL, in its user part or as a query parameter (`?password=`,
 * `?sslpassword=`), each as written, percent-escapes and all, and decoded.
 */
export function recordConfigSecrets(env: Readonly<Record<string, string | undefined>>): void {
  recordSecret("component secret", env.COMPONENT_SECRET ?? "");
  let url: URL;
  try {
    url = new URL(env.KEY_STORE ?? "");
  } catch {
    return; // a file path: no password
  }
  const params = url.search
    .slice(1)
    .split("&")
    .map((pair) => pair.split("="));
  const written = [url.password, ...params.filter(([name = ""]) => /pass|secret|token/i.test(name)).map(([, v]) => v)];
  for (const password of written) {
    recordSecret("store password", password ?? "");
    try {
      recordSecret("store password", decodeURIComponent(password ?? ""));
    } catch {
      // a stray `%`: only the password as written
    }
  }
}

export function recordLog(name: string, text: string): void {
  append(`${name}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.log`, text);
}
