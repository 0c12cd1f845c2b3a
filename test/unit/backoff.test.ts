import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nextDelay } from "../../src/xmpp/backoff.js";

describe("reconnect backoff", () => {
  it("doubles from the minimum, within 75-100% of each step", () => {
    for (const [attempt, step] of [
      [0, 500],
      [1, 1000],
      [2, 2000],
      [5, 16_000],
    ] as const) {
      assert.equal(
        nextDelay(attempt, 500, 30_000, () => 0),
        step * 0.75,
      );
      assert.equal(
        nextDelay(attempt, 500, 30_000, () => 1),
        step,
      );
    }
  });

  it("is capped at the maximum, even after very many attempts", () => {
    assert.equal(
      nextDelay(6, 500, 30_000, () => 1),
      30_000,
    );
    assert.equal(
      nextDelay(10_000, 500, 30_000, () => 1),
      30_000,
    );
    assert.ok(nextDelay(10_000, 500, 30_000, () => 0) >= 22_500);
  });
});
