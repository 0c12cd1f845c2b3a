import type { ChildProcess } from "node:child_process";

const live = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

/**
 * Tracks a server a test started: it does not keep the test process alive (a failed test that
 * forgot it cannot hang the run), and it is killed when the test process exits, also when the test
 * runner stops it with a signal (a test that timed out).
 */
export function track(child: ChildProcess): ChildProcess {
  if (!hooked) {
    hooked = true;
    process.once("exit", killAll);
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      process.once(signal, () => {
        killAll();
        // Then the signal's own effect: without this listener, it ends the process.
        process.kill(process.pid, signal);
      });
    }
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}

/**
 * Sends `signal`, then SIGKILL if the child has not exited after `graceMs`; resolves once it has
 * exited. Held while waiting: a tracked child alone would not keep the test process alive.
 */
export async function terminate(
  child: ChildProcess,
  exited: Promise<unknown>,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 20_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.ref();
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, graceMs);
  });
  await Promise.race([exited, killed]);
  clearTimeout(timer);
  await exited;
}

/**
 * Starts several things at once; if any fails to start, disposes of those that did start and
 * throws the first failure, so that no server outlives a failed start.
 */
export async function startAll<T>(
  starts: ReadonlyArray<() => Promise<T>>,
  dispose: (started: T) => Promise<unknown>,
): Promise<T[]> {
  const results = await Promise.allSettled(starts.map((start) => start()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (!failed) return results.map((r) => (r as PromiseFulfilledResult<T>).value);
  await Promise.allSettled(results.flatMap((r) => (r.status === "fulfilled" ? [dispose(r.value)] : [])));
  throw failed.reason;
}
