import { RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { AppError } from "../errors.js";
import type { Rate } from "../keys/keyRecord.js";
import { memoryLimiters } from "../store/memory/limiters.js";
import type { LimiterFactory } from "../store/store.js";

export interface RateLimits {
  /**
   * Counts `points` invites of a key (one request; a batch counts each); throws `rate_limited` with
   * Retry-After past its rate, `bad_request` for more at once than the rate ever allows.
   */
  consumeKey(keyId: string, rate: Rate | undefined, points?: number): Promise<void>;
  /** Counts one list, show or revoke of a key, against MANAGE_RATE, apart from its invites. */
  consumeManage(keyId: string): Promise<void>;
  /** Throws `too_many_failures` while an address is over its failed-attempt limit. */
  assertNotBlocked(address: string): Promise<void>;
  /** Counts a failed key attempt of an address; throws `too_many_failures` once over the limit. */
  recordFailure(address: string): Promise<void>;
  /** Counts one look at an invite page (the page itself or a name check) of a client address, against INVITE_PAGE_RATE. */
  consumeInviteLookup(address: string): Promise<void>;
  /** Counts one sign-up through an invite page of a client address, against INVITE_SIGNUP_RATE. */
  consumeInviteSignup(address: string): Promise<void>;
}

export interface RateLimitOptions {
  /** For keys created without --rate; undefined: no limit. */
  readonly defaultKeyRate: Rate | undefined;
  /** Failed key attempts allowed per client address; undefined: no limit. */
  readonly failureLimit: Rate | undefined;
  /** Lists, shows and revokes allowed per key; undefined: no limit. */
  readonly manageRate?: Rate | undefined;
  /** Invite page lookups (pages and name checks) allowed per client address; undefined: no limit. */
  readonly invitePageRate?: Rate | undefined;
  /** Sign-ups through invite pages allowed per client address; undefined: no limit. */
  readonly inviteSignupRate?: Rate | undefined;
  readonly limiters?: LimiterFactory;
}

const retryAfter = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1_000));

export function createRateLimits(opts: RateLimitOptions): RateLimits {
  const build = opts.limiters ?? memoryLimiters;
  // Keys may each have their own rate: one limiter per distinct rate, made on first use.
  const keyLimiters = new Map<string, RateLimiterAbstract>();
  const keyLimiter = (rate: Rate) => {
    const name = `invites-api:key:${rate.points}:${rate.durationSeconds}`;
    let limiter = keyLimiters.get(name);
    if (!limiter) keyLimiters.set(name, (limiter = build(rate, name)));
    return limiter;
  };
  const failures = opts.failureLimit ? build(opts.failureLimit, "invites-api:auth-failures") : undefined;
  const managing = opts.manageRate ? build(opts.manageRate, "invites-api:manage") : undefined;
  const lookups = opts.invitePageRate ? build(opts.invitePageRate, "invites-api:invite-page") : undefined;
  const signups = opts.inviteSignupRate ? build(opts.inviteSignupRate, "invites-api:invite-signup") : undefined;

  async function consume(
    limiter: RateLimiterAbstract,
    id: string,
    code: "rate_limited" | "too_many_failures",
    points = 1,
  ) {
    try {
      await limiter.consume(id, points);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new AppError(code, `${id} is over its limit`, { retryAfterSeconds: retryAfter(err) });
      }
      throw new AppError("store_unavailable", "rate limit store failed", { cause: err });
    }
  }

  return {
    async consumeKey(keyId, rate, points = 1) {
      const effective = rate ?? opts.defaultKeyRate;
      if (!effective) return;
      if (points > effective.points) {
        throw new AppError(
          "bad_request",
          `${points} invites at once are more than this key's rate allows (${effective.points} per ${effective.durationSeconds} s): send fewer, or give the key a higher --rate`,
        );
      }
      await consume(keyLimiter(effective), keyId, "rate_limited", points);
    },

    async consumeManage(keyId) {
      if (managing) await consume(managing, keyId, "rate_limited");
    },

    async assertNotBlocked(address) {
      if (!failures || !opts.failureLimit) return;
      let res: RateLimiterRes | null;
      try {
        res = await failures.get(address);
      } catch (err) {
        throw new AppError("store_unavailable", "rate limit store failed", { cause: err });
      }
      if (res && res.consumedPoints >= opts.failureLimit.points) {
        throw new AppError("too_many_failures", "address over its failed-attempt limit", {
          retryAfterSeconds: retryAfter(res),
        });
      }
    },

    async recordFailure(address) {
      if (failures) await consume(failures, address, "too_many_failures");
    },

    async consumeInviteLookup(address) {
      if (lookups) await consume(lookups, address, "rate_limited");
    },

    async consumeInviteSignup(address) {
      if (signups) await consume(signups, address, "rate_limited");
    },
  };
}
