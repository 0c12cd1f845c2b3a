import type { SecretClass } from "../support/handedOut.js";

/**
 * The log scan: every recorded secret, in every form it could be written in, searched for as a
 * substring of every log line. A leak is reported by file, line and class, never with the secret.
 */
export interface Secret {
  readonly kind: SecretClass;
  readonly value: string;
}

export interface LogLine {
  readonly file: string;
  /** 1-based. */
  readonly number: number;
  readonly text: string;
}

export interface Leak {
  readonly file: string;
  readonly line: number;
  readonly kind: SecretClass;
  /** The line up to the secret, at most 80 characters of it: the leftmost match, so it holds no whole secret. */
  readonly before: string;
}

/**
 * Secrets are looked up by their first characters, so each must be at least this long; anything
 * shorter is a placeholder (`COMPONENT_SECRET: "s"` for a run that stops at its configuration) that
 * ordinary text would match.
 */
export const MIN_SECRET_LENGTH = 8;

/**
 * A secret as it would be written into a line: as it is; percent-encoded, hex in either case (in a
 * URL or a form: `+`, `/`, `=` of base64); JSON-escaped (quotes and backslashes, and `\/`, which
 * some encoders write).
 */
export function leakForms(secret: string): string[] {
  const percent = encodeURIComponent(secret);
  return [
    ...new Set([
      secret,
      percent,
      percent.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),
      JSON.stringify(secret).slice(1, -1),
      JSON.stringify(secret).slice(1, -1).replaceAll("/", "\\/"),
    ]),
  ];
}

// Prosody's own mod_invites logs, at debug, a token it refuses (unknown or expired: one that no
// longer registers anyone). That token is Prosody's to log, not ours; production logs at info. Only
// the token itself is passed over: the rest of the line is searched as any other.
const REFUSED_BY_PROSODY = /(\tdebug\tGot (?:unknown|expired) token: ).*$/;

const searched = (line: LogLine): string =>
  line.file.startsWith("prosody-") ? line.text.replace(REFUSED_BY_PROSODY, "$1") : line.text;

/**
 * Returns a function that finds the leftmost recorded secret in a line. Every form of every secret
 * is filed under its first MIN_SECRET_LENGTH characters, so each position of a line costs one map
 * look-up, whatever the number of secrets.
 */
export function secretFinder(
  secrets: readonly Secret[],
): (text: string) => { kind: SecretClass; index: number } | undefined {
  const byPrefix = new Map<string, Array<{ form: string; kind: SecretClass }>>();
  for (const { kind, value } of secrets) {
    if (value.length < MIN_SECRET_LENGTH) continue;
    for (const form of leakForms(value)) {
      const prefix = form.slice(0, MIN_SECRET_LENGTH);
      const bucket = byPrefix.get(prefix) ?? [];
      if (!bucket.some((entry) => entry.form === form)) bucket.push({ form, kind });
      byPrefix.set(prefix, bucket);
    }
  }
  return (text) => {
    for (let index = 0; index + MIN_SECRET_LENGTH <= text.length; index += 1) {
      const bucket = byPrefix.get(text.slice(index, index + MIN_SECRET_LENGTH));
      const found = bucket?.find(({ form }) => text.startsWith(form, index));
      if (found) return { kind: found.kind, index };
    }
    return undefined;
  };
}

/** Every line that holds a secret, with the class of the leftmost one. */
export function scanLines(secrets: readonly Secret[], lines: Iterable<LogLine>): Leak[] {
  const find = secretFinder(secrets);
  const leaks: Leak[] = [];
  for (const line of lines) {
    const text = searched(line);
    const found = find(text);
    if (found) {
      const before = text.slice(Math.max(0, found.index - 80), found.index);
      leaks.push({ file: line.file, line: line.number, kind: found.kind, before });
    }
  }
  return leaks;
}

/** The lines of a log file, numbered from 1. */
export const logLines = (file: string, content: string): LogLine[] =>
  content.split("\n").map((text, i) => ({ file, number: i + 1, text }));
