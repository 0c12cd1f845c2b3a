/**
 * Exponential backoff with "full jitter": attempt n waits a random time in [min, min·2ⁿ], capped at
 * max, so many instances restarting together do not reconnect in step.
 */
export function nextDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(minMs + random() * (ceiling - minMs));
}
