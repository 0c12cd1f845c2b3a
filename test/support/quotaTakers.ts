import { randomUUID } from "node:crypto";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { openStore } from "../../src/store/open.js";

/**
 * Quota takes from threads of their own, each with its own connection to one store (KEY_STORE), all
 * let go at the same instant: what runs truly at once, as two processes would, where takes from one
 * thread are run one after another (a SQLite statement is synchronous).
 */
interface Job {
  readonly keyStore: string;
  /** Subjects `${prefix}0` … : every thread takes for each in turn, so that they meet on each. */
  readonly prefix: string;
  readonly subjects: number;
  readonly limit: number;
  readonly windowMs: number;
  readonly now: number;
  /** Takes per subject per thread, all at once. */
  readonly takes: number;
  /** One Int32 each thread adds 1 to once open; they all start when it reaches `threads`. */
  readonly ready: SharedArrayBuffer;
  readonly threads: number;
}

/** How many takes were taken, of all subjects'. */
export async function takeFromThreads(keyStore: string, given: Omit<Job, "keyStore" | "ready">): Promise<number> {
  const job: Job = { ...given, keyStore, ready: new SharedArrayBuffer(4) };
  const counts = await Promise.all(
    Array.from(
      { length: job.threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: job });
          worker.once("message", (taken: number) => resolve(taken));
          worker.once("error", reject);
          worker.once("exit", (code) => reject(new Error(`a taker thread ended (${code}) before answering`)));
        }),
    ),
  );
  return counts.reduce((sum, n) => sum + n, 0);
}

async function run(job: Job): Promise<number> {
  const store = await openStore(job.keyStore);
  try {
    const ready = new Int32Array(job.ready);
    Atomics.add(ready, 0, 1);
    while (Atomics.load(ready, 0) < job.threads) Atomics.wait(ready, 0, Atomics.load(ready, 0), 5);
    let taken = 0;
    for (let s = 0; s < job.subjects; s += 1) {
      const answers = await Promise.all(
        Array.from({ length: job.takes }, (_, i) =>
          store.quotas.take(`${job.prefix}${s}`, job.limit, job.windowMs, job.now + i, randomUUID()),
        ),
      );
      taken += answers.filter((answer) => answer.taken).length;
    }
    return taken;
  } finally {
    await store.close();
  }
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  void run(workerData as Job).then((taken) => port.postMessage(taken));
}
