import type { Context, Middleware, Next } from "koa";
import { AppError } from "../errors.js";
import { markChecked } from "../http/requireApiKey.js";
import type { KeyInfo } from "../keys/keyRecord.js";
import { csrfPasses } from "./csrf.js";
import type { OpenSession, Sessions } from "./sessions.js";
import type { PersonCaller, PersonFacts, PersonLookup, SessionRecord } from "./types.js";

/** A person as routes see them: the synthetic key, and themselves (caller.ts's personCaller). */
export interface PersonAct {
  readonly apiKey: KeyInfo;
  readonly person: PersonCaller;
}

/**
 * What a person may do, from Prosody's facts and their session (personCaller with the policy);
 * undefined: nothing at all (gone, disabled, or a role that gives nothing).
 */
export type CallerFor = (
  facts: PersonFacts,
  session: Pick<SessionRecord, "jid" | "host" | "createdAt"> & { readonly hash: string },
) => PersonAct | undefined;

export interface SessionState {
  apiKey?: KeyInfo;
  person?: PersonCaller;
  session?: OpenSession;
}

export interface SessionCallerDeps {
  readonly sessions: Sessions;
  readonly lookup: PersonLookup;
  readonly toCaller: CallerFor;
  readonly trustedProxies: number;
  readonly now?: () => number;
  /** How long Prosody's word on a session's person holds before it is asked again. */
  readonly recheckMs?: number;
}

export const RECHECK_MS = 60_000;
/** Facts kept at most for this many sessions; past it the stale ones go, then the oldest. */
const MAX_CACHED = 10_000;

/** A request that names a key (header or ?key): a key's request, whatever cookie comes with it. */
const carriesKey = (ctx: Context): boolean => ctx.get("Authorization") !== "" || ctx.query.key !== undefined;

export interface SessionGate {
  /**
   * A request with no key but a session cookie acts as the session's person: `ctx.state.apiKey`
   * and `ctx.state.person` are set for the routes, or it is refused (401 not_signed_in for a session
   * that ended, 403 csrf_refused for a change that does not prove it comes from the page). A
   * request without a session cookie goes on untouched, to the key check.
   */
  readonly caller: Middleware;
  /**
   * Only the session and its CSRF check, no Prosody (signing out works while Prosody is down); a
   * session that ended is no session (signing out of it is done already).
   */
  readonly session: Middleware;
  /**
   * The API's check of who calls: a session's person (`caller`), else `keyCheck` (requireApiKey),
   * which takes the person's KeyInfo as a key already checked.
   */
  orKey(keyCheck: Middleware): Middleware;
  /** Refuses with not_signed_in a request `caller` did not make a person's. */
  readonly required: Middleware;
  /** Forgets what this instance kept of a session (it was just ended here). */
  forget(hash: string): void;
}

export function sessionGate(deps: SessionCallerDeps): SessionGate {
  const now = deps.now ?? Date.now;
  const recheckMs = deps.recheckMs ?? RECHECK_MS;
  // Prosody's facts per session hash, in this instance's memory: a session costs Prosody one
  // question a minute, however many requests it makes.
  const facts = new Map<string, { readonly at: number; readonly facts: PersonFacts }>();

  function remember(hash: string, found: PersonFacts, at: number): void {
    facts.delete(hash);
    facts.set(hash, { at, facts: found });
    if (facts.size <= MAX_CACHED) return;
    // Insertion order is age order: drop from the oldest while stale, then down to the bound.
    for (const [key, entry] of facts) {
      if (facts.size <= MAX_CACHED && at - entry.at < recheckMs) break;
      facts.delete(key);
    }
  }

  async function factsFor({ hash, record }: OpenSession): Promise<PersonFacts> {
    const at = now();
    const known = facts.get(hash);
    if (known && at - known.at < recheckMs) return known.facts;
    const found = await deps.lookup.person(record.host, record.jid);
    remember(hash, found, at);
    return found;
  }

  async function ended(ctx: Context, hash: string): Promise<never> {
    facts.delete(hash);
    await deps.sessions.end(hash);
    deps.sessions.cookie.clear(ctx);
    throw new AppError("not_signed_in", "the session's account is gone or may do nothing");
  }

  /**
   * The request's session after its CSRF check; undefined: a key's request or no cookie (or, when
   * `ended` is "pass", a session that has ended).
   */
  async function openSession(ctx: Context, ended: "refuse" | "pass"): Promise<OpenSession | undefined> {
    if (carriesKey(ctx)) return undefined;
    const id = deps.sessions.cookie.read(ctx);
    if (id === undefined) return undefined;
    const session = await deps.sessions.read(id);
    if (!session) {
      deps.sessions.cookie.clear(ctx);
      if (ended === "pass") return undefined;
      throw new AppError("not_signed_in", "the session has ended");
    }
    if (!csrfPasses(ctx, session.record.csrf, deps.trustedProxies)) {
      throw new AppError("csrf_refused", "a change with a session needs its X-CSRF-Token, from this site");
    }
    (ctx.state as SessionState).session = session;
    return session;
  }

  async function caller(ctx: Context, next: Next): Promise<void> {
    const session = await openSession(ctx, "refuse");
    if (session) {
      const found = await factsFor(session);
      if (!found.exists || !found.enabled) return ended(ctx, session.hash);
      const act = deps.toCaller(found, { ...session.record, hash: session.hash });
      if (!act) return ended(ctx, session.hash);
      await deps.sessions.touch(session);
      const state = ctx.state as SessionState;
      state.apiKey = act.apiKey;
      state.person = act.person;
      // requireApiKey then takes it as the request's key, checked.
      markChecked(ctx.req, act.apiKey);
    }
    await next();
  }

  return {
    caller,

    orKey(keyCheck) {
      return async function sessionOrKey(ctx: Context, next: Next) {
        await caller(ctx, () => keyCheck(ctx, next));
      };
    },

    async session(ctx: Context, next: Next) {
      await openSession(ctx, "pass");
      await next();
    },

    async required(ctx: Context, next: Next) {
      if (!(ctx.state as SessionState).person) throw new AppError("not_signed_in", "no session");
      await next();
    },

    forget(hash) {
      facts.delete(hash);
    },
  };
}

/** sessionGate's `caller` alone (one gate per service: its memory of Prosody's facts is shared). */
export const sessionCaller = (deps: SessionCallerDeps): Middleware => sessionGate(deps).caller;
