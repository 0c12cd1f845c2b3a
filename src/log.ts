import { pino, type Logger } from "pino";
import type { LogLevel } from "./config.js";

export type { Logger };

/**
 * JSON lines on stdout. Anything that could carry a key is redacted wherever it appears, as a
 * second line of defence: the code never logs secrets on purpose.
 */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { service: "invites-api" },
    redact: {
      paths: [
        "secret",
        "*.secret",
        "key",
        "*.key",
        "authorization",
        "*.authorization",
        "req.headers.authorization",
        "headers.authorization",
      ],
      censor: "[redacted]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * The same logger without the logger-wide redaction, for the lines written on every request (the
 * access and audit lines). Those are built field by field from values that hold no secret (the URL
 * passes redactUrl, no header is logged), and redaction cost twice the line itself (issue 12).
 */
export const withoutRedaction = (log: Logger): Logger => log.child({}, { redact: { paths: [], censor: "[redacted]" } });
