import { RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { AppError } from "../errors.js";
import type { Rate } from "../keys/keyRecord.js";
import { memoryLimiters } from "../store/memory/limiters.js";
import type { LimiterFactory } from "../store/store.js";

/**
 * Sign-in links asked for, per account (SIGN_IN_ACCOUNT_RATE: nobody floods a person with
 * messages) and per client address (SIGN_IN_ADDRESS_RATE: nobody walks through accounts), counted
 * in the shared store where keys' limits are, so every instance counts together. Every account
 * counts, existing or not: the limit says nothing of which exist.
 */
export interface SignInLimits {
  /** Throws sign_in_limited (with Retry-After) when the address or the account is over its rate. */
  consume(address: string, jid: string): Promise<void>;
  /** The address's count alone (a sign-in through the XMPP server's page started). */
  consumeAddress(address: string): Promise<void>;
  /**
   * Counts one more link for the account as Prosody names it, when that differs from what was
   * typed (another case or Unicode form of the same account); false when over its rate. Else
   * typing the same account in many forms would flood it past SIGN_IN_ACCOUNT_RATE.
   */
  allowsPrepped(typed: string, prepped: string): Promise<boolean>;
}

export interface SignInLimitOptions {
  readonly accountRate: Rate | undefined;
  readonly addressRate: Rate | undefined;
  readonly limiters?: LimiterFactory;
}

export function createSignInLimits(opts: SignInLimitOptions): SignInLimits {
  const build = opts.limiters ?? memoryLimiters;
  const accounts = opts.accountRate ? build(opts.accountRate, "invites-api:sign-in-account") : undefined;
  const addresses = opts.addressRate ? build(opts.addressRate, "invites-api:sign-in-address") : undefined;

  async function consume(limiter: RateLimiterAbstract | undefined, id: string): Promise<void> {
    if (!limiter) return;
    try {
      await limiter.consume(id);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new AppError("sign_in_limited", "too many sign-in links", {
          retryAfterSeconds: Math.max(1, Math.ceil(err.msBeforeNext / 1_000)),
        });
      }
      throw new AppError("store_unavailable", "rate limit store failed", { cause: err });
    }
  }

  return {
    async consume(address, jid) {
      // The address first: a client over its own limit takes nothing from the account's.
      await consume(addresses, address);
      await consume(accounts, jid);
    },
    async consumeAddress(address) {
      await consume(addresses, address);
    },
    async allowsPrepped(typed, prepped) {
      if (typed === prepped) return true;
      try {
        await consume(accounts, prepped);
        return true;
      } catch (err) {
        if (err instanceof AppError && err.code === "sign_in_limited") return false;
        throw err;
      }
    },
  };
}
