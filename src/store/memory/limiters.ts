import { RateLimiterMemory } from "rate-limiter-flexible";
import type { LimiterFactory } from "../store.js";

/** Rate-limit counts in this process's memory: one instance (SQLite), or no store at all (tests). */
export const memoryLimiters: LimiterFactory = (rate, prefix) =>
  new RateLimiterMemory({ points: rate.points, duration: rate.durationSeconds, keyPrefix: prefix });
