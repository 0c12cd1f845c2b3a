import type { ChildProcess } from "node:child_process";

const live = new Set<ChildProcess>();
let hooked = false;

/**
 * Tracks a server a test started: it does not keep the test process alive (a failed test that
 * forgot it cannot hang the run), and it is killed when the test process exits.
 */
export function track(child: ChildProcess): ChildProcess {
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    });
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}
