import { AppError, KeyNotFoundError } from "../errors.js";
import type { Logger } from "../log.js";
import { storeName } from "./url.js";

/**
 * How long one call to the key store may take in the service, its opening too. A store that
 * takes the connection and then stops answering (a hung server, a dropped network path) would
 * otherwise hold each request that checks a key forever; past this the request is answered 503
 * `store_unavailable` with Retry-After. A fixed bound, not a setting: a store that answers at all
 * answers in milliseconds, and the same 5 s bound PostgreSQL's connect and SQLite's busy wait have.
 */
export const STORE_TIMEOUT_MS = 5_000;

export interface StoreDeadline {
  /** Settles as `call` does, or rejects with `store_unavailable` once the deadline has passed. */
  run<T>(call: Promise<T>): Promise<T>;
}

/** Failures of the request rather than of the store (a rate limit's "no"): the store answered. */
const answered = (err: unknown) =>
  err instanceof KeyNotFoundError ||
  (err instanceof AppError && err.code !== "store_unavailable") ||
  !(err instanceof Error);

/**
 * Bounds each store call by `timeoutMs` and logs one line naming the store at each change of its
 * state: when a call first fails or misses its deadline, and when one succeeds after that.
 * `late` is told of each call past its deadline.
 */
export function storeDeadline(
  keyStore: string,
  log: Logger,
  { timeoutMs = STORE_TIMEOUT_MS, late = () => {} }: { timeoutMs?: number; late?: () => void } = {},
): StoreDeadline {
  const store = storeName(keyStore);
  let away = false;
  const failed = (reason: string) => {
    if (away) return;
    away = true;
    log.warn({ store, reason }, "key store unavailable");
  };
  const succeeded = () => {
    if (!away) return;
    away = false;
    log.info({ store }, "key store answers again");
  };
  return {
    async run(call) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new AppError(
        "store_unavailable",
        `the key store (${store}) did not answer within ${timeoutMs / 1_000} s`,
      );
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(timedOut), timeoutMs);
      });
      try {
        const result = await Promise.race([call, deadline]);
        succeeded();
        return result;
      } catch (err) {
        if (err === timedOut) {
          failed(timedOut.message);
          late();
        } else if (answered(err)) succeeded();
        else failed(err instanceof Error ? err.message : String(err));
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

const isPromise = (value: unknown): value is Promise<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === "function";

const isAsyncIterator = (value: unknown): value is AsyncIterableIterator<unknown> =>
  typeof (value as { next?: unknown } | null)?.next === "function" &&
  typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";

/** The same iterator, each step bounded. */
async function* boundedSteps<T>(steps: AsyncIterator<T>, deadline: StoreDeadline): AsyncGenerator<T> {
  try {
    for (;;) {
      const step = await deadline.run(steps.next());
      if (step.done) return;
      yield step.value;
    }
  } finally {
    // A loop left early, or a step past its deadline: the store's own iterator ends too.
    void steps.return?.()?.catch(() => undefined);
  }
}

/**
 * The same object, every method that returns a promise (or an async iterator: keyv's) bounded by
 * the deadline. One wrapper for every store's every part, whatever its driver offers or lacks:
 * node-redis drops a command's own timeout once the command is written to the socket.
 */
export function bounded<T extends object>(target: T, deadline: StoreDeadline): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(object, args);
        if (isPromise(result)) return deadline.run(result);
        if (isAsyncIterator(result)) return boundedSteps(result, deadline);
        return result;
      };
    },
  });
}
