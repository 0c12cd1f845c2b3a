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
