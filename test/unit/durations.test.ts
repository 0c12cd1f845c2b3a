import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatRate, parseDuration, parseRate } from "../../src/keys/durations.js";

describe("durations and rates", () => {
  it("reads durations like 90s, 12h, 30d", () => {
    assert.equal(parseDuration("90s"), 90_000);
    assert.equal(parseDuration("12h"), 12 * 3_600_000);
    assert.equal(parseDuration("30d"), 30 * 86_400_000);
  });

  it("refuses what is not a positive duration", () => {
    for (const bad of ["", "soon", "-5m", "0s", "1 fortnight", "10/1m"])
      assert.equal(parseDuration(bad), undefined, bad);
  });

  it("reads rates like 10/1m and 100/1d", () => {
    assert.deepEqual(parseRate("10/1m"), { points: 10, durationSeconds: 60 });
    assert.deepEqual(parseRate("100/1d"), { points: 100, durationSeconds: 86_400 });
    assert.equal(formatRate({ points: 10, durationSeconds: 60 }), "10/1m");
  });

  it("refuses malformed rates", () => {
    for (const bad of ["10", "0/1m", "x/1m", "10/", "10/100ms", "10/1m/2", "-1/1m"])
      assert.equal(parseRate(bad), undefined, bad);
  });
});
