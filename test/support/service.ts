import { execFile, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { once } from "node:events";
import { terminate, track } from "./cleanup.js";
import { recordConfigSecrets, recordKeysIn, recordLog } from "./handedOut.js";

export const CLI = fileURLToPath(new URL("../../bin/invites-api.js", import.meta.url));

type Env = Record<string, string | undefined>;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the built CLI as a user would, with only the given variables on top of PATH; `cli` is
 * another copy of bin/invites-api.js (an installed package's).
 */
export function runCli(args: readonly string[], env: Env = {}, cli: string = CLI): Promise<CliResult> {
  recordConfigSecrets(env);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        recordKeysIn(stdout);
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface RunningService {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every log line so far, parsed. */
  readonly lines: Array<Record<string, unknown>>;
  readonly output: () => string;
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends a signal (SIGKILL if it has not exited 20 s later) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `invites-api serve` as a child process on port 0 and waits until it listens: the port it
 * got is in its "HTTP API listening" line (`url`). If it does not, the child is stopped before the
 * error is thrown: a failed start leaves nothing behind.
 */
export async function startService(env: Env, cli: string = CLI): Promise<RunningService> {
  recordConfigSecrets(env);
  const child = spawn(process.execPath, [cli, "serve"], {
    // No grace period on SIGTERM unless a test asks for one: tests stop services often.
    env: {
      PATH: process.env.PATH,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      LOG_LEVEL: "debug",
      SHUTDOWN_GRACE_MS: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Killed when the test process exits, whatever the test did.
  track(child);
  const lines: Array<Record<string, unknown>> = [];
  let raw = "";
  let pending = "";
  const listeners = new Set<() => void>();
  child.stdout.on("data", (chunk: Buffer) => {
    raw += chunk.toString();
    pending += chunk.toString();
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        lines.push({ msg: part });
      }
    }
    listeners.forEach((notify) => notify());
  });
  child.stderr.on("data", (chunk: Buffer) => (raw += chunk.toString()));
  const exited = once(child, "exit").then(([code]) => code as number | null);

  function waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000) {
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const found = lines.find(predicate);
        if (found) {
          cleanup();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`log line not seen within ${timeoutMs} ms; output:\n${raw}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      void exited.then(() => {
        check();
        if (listeners.has(check)) {
          cleanup();
          reject(new Error(`service exited; output:\n${raw}`));
        }
      });
      check();
    });
  }

  let listening: Record<string, unknown>;
  try {
    listening = await waitForLog((line) => line.msg === "HTTP API listening");
  } catch (err) {
    await terminate(child, exited, "SIGTERM", 5_000);
    throw err;
  }
  return {
    url: String(listening.url),
    child,
    lines,
    output: () => raw,
    waitForLog,
    async stop(signal = "SIGTERM") {
      await terminate(child, exited, signal);
      recordLog("service", raw);
      return exited;
    },
  };
}
