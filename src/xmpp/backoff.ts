/**
 * Exponential backoff with jitter: attempt n waits between 75% and 100% of min·2ⁿ, capped at max.
 * The lower bound still doubles, so a misconfigured instance never retries faster than that, and
 * the jitter keeps many instances restarting together from reconnecting in step.
 */
export function nextDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.75 + 0.25 * random()));
}
