import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { pino } from "pino";
import { AppError } from "../../src/errors.js";
import { bounded, storeDeadline } from "../../src/store/deadline.js";

const STORE = "redis://:hunter2-secret@127.0.0.1:6390";
const TIMEOUT_MS = 50;

function logged() {
  const lines: Array<Record<string, unknown>> = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: pino({ level: "info" }, out) };
}

const never = () => new Promise<never>(() => {});
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("storeDeadline", () => {
  it("turns a call past its deadline into store_unavailable naming the store, password masked", async () => {
    const { log } = logged();
    const deadline = storeDeadline(STORE, log, { timeoutMs: TIMEOUT_MS });
    const started = Date.now();
    const err = await deadline.run(never()).then(
      () => assert.fail("a call that never settles resolved"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AppError);
    assert.equal(err.code, "store_unavailable");
    assert.equal(err.message, "the key store (redis redis://:****@127.0.0.1:6390) did not answer within 0.05 s");
    assert.ok(Date.now() - started < 1_000);
  });

  it("logs once when the store goes away and once when it answers again", async () => {
    const { lines, log } = logged();
    const deadline = storeDeadline(STORE, log, { timeoutMs: TIMEOUT_MS });
    await deadline.run(Promise.resolve(1));
    for (let i = 0; i < 3; i++) await deadline.run(never()).catch(() => undefined);
    await deadline.run(Promise.reject(new Error("ECONNREFUSED"))).catch(() => undefined);
    await deadline.run(Promise.resolve(2));
    await deadline.run(Promise.resolve(3));
    await settled();
    assert.deepEqual(
      lines.map((line) => [line.msg, line.store]),
      [
        ["key store unavailable", "redis redis://:****@127.0.0.1:6390"],
        ["key store answers again", "redis redis://:****@127.0.0.1:6390"],
      ],
    );
    assert.ok(!JSON.stringify(lines).includes("hunter2"));
  });

  it("takes a refusal that is not an Error (a rate limit's) as an answer", async () => {
    const { lines, log } = logged();
    const deadline = storeDeadline(STORE, log, { timeoutMs: TIMEOUT_MS });
    const refusal = { msBeforeNext: 1_000 };
    await assert.rejects(deadline.run(Promise.reject(refusal as unknown as Error)), (e) => e === refusal);
    await settled();
    assert.equal(lines.length, 0);
  });

  it("tells `late` of each call past its deadline", async () => {
    let late = 0;
    const deadline = storeDeadline(STORE, pino({ level: "silent" }), { timeoutMs: TIMEOUT_MS, late: () => late++ });
    await deadline.run(never()).catch(() => undefined);
    await deadline.run(Promise.reject(new Error("refused"))).catch(() => undefined);
    assert.equal(late, 1);
  });
});

describe("bounded", () => {
  const deadline = storeDeadline(STORE, pino({ level: "silent" }), { timeoutMs: TIMEOUT_MS });

  it("bounds every method that returns a promise, and leaves the others and plain values alone", async () => {
    const store = {
      size: 3,
      name: () => "store",
      get: (key: string) => Promise.resolve(`value of ${key}`),
      hang: () => never(),
    };
    const wrapped = bounded(store, deadline);
    assert.equal(wrapped.size, 3);
    assert.equal(wrapped.name(), "store");
    assert.equal(await wrapped.get("a"), "value of a");
    await assert.rejects(wrapped.hang(), (e) => e instanceof AppError && e.code === "store_unavailable");
  });

  it("calls each method on the object itself, so its own fields stay reachable", async () => {
    class Counter {
      #count = 0;
      async add() {
        return ++this.#count;
      }
    }
    const wrapped = bounded(new Counter(), deadline);
    await wrapped.add();
    assert.equal(await wrapped.add(), 2);
  });

  it("bounds each step of an async iterator", async () => {
    const store = {
      async *entries() {
        yield 1;
        await never();
        yield 2;
      },
    };
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const entry of bounded(store, deadline).entries()) seen.push(entry);
      })(),
      (e) => e instanceof AppError && e.code === "store_unavailable",
    );
    assert.deepEqual(seen, [1]);
  });
});
