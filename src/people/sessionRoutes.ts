import type Router from "@koa/router";
import { bodyParser } from "@koa/bodyparser";
import type Keyv from "keyv";
import type { Context, Middleware } from "koa";
import { AppError } from "../errors.js";
import { clientAddress } from "../http/clientAddress.js";
import { jsonBody } from "../http/invitesResource.js";
import { sameOrigin } from "../invitePage/origin.js";
import type { RateLimits } from "../limits/rateLimits.js";
import { inviterNotices } from "./notices.js";
import type { CallerFor, PersonAct, SessionGate, SessionState } from "./sessionCaller.js";
import type { OpenSession, Sessions } from "./sessions.js";
import type { SignInLimits } from "./signInLimits.js";
import type { SignInLinks } from "./signInLink.js";
import type { QuotaStore } from "./types.js";
import {
  linkRequest,
  redeemRequest,
  SESSION_EXPECTED,
  sessionPatch,
  type SessionJson,
  type methodsAnswer,
} from "./wire.js";
import type { z } from "zod";

/** What the session routes need once PUBLIC_URL is set. */
export interface SessionRouteDeps {
  readonly sessions: Sessions;
  /** The one gate of the service (its caller middleware also guards the API's routes). */
  readonly gate: SessionGate;
  readonly toCaller: CallerFor;
  /** ServiceStore.people (the `notify:JID` setting). */
  readonly people: Keyv;
  readonly quotas: QuotaStore;
  /** Sign-in links; none: no way to sign in by link (only OAuth, say). */
  readonly links?: { readonly links: SignInLinks; readonly limits: SignInLimits };
  /** Hosts signed in through their Prosody's OAuth (PEOPLE_OAUTH). */
  readonly oauthHosts?: () => readonly string[];
  /** Failed redeems count against the address like failed keys (AUTH_FAILURE_LIMIT). */
  readonly limits?: Pick<RateLimits, "assertNotBlocked" | "recordFailure">;
  readonly trustedProxies: number;
  readonly now?: () => number;
  /** Told of each sign-in link's background work (tests wait for it). */
  readonly sending?: (work: Promise<void>) => void;
}

/**
 * The session API (issue 29): GET /session/methods, POST /session/link (always 202),
 * POST /session/link/redeem, GET, PATCH and DELETE /session. Without `deps` (PUBLIC_URL unset)
 * every route but /session/methods answers 501 sign_in_unavailable.
 */
export function mountSessionRoutes(
  router: Router,
  deps: SessionRouteDeps | undefined,
  onlyMethods: (allow: string) => Middleware,
): void {
  const noStore: Middleware = async (ctx, next) => {
    // Answers carry the session's CSRF token: no cache keeps them.
    ctx.set("Cache-Control", "no-store");
    await next();
  };
  router.get("/session/methods", noStore, (ctx) => {
    const answer: z.infer<typeof methodsAnswer> = {
      link: deps?.links !== undefined,
      oauth: deps?.oauthHosts ? [...deps.oauthHosts()] : [],
    };
    ctx.body = answer;
  });
  router.all("/session/methods", onlyMethods("GET"));
  const paths = ["/session", "/session/link", "/session/link/redeem"];
  if (!deps) {
    router.all(paths, () => {
      throw new AppError("sign_in_unavailable", "PUBLIC_URL is not set");
    });
    return;
  }
  const now = deps.now ?? Date.now;
  const notices = inviterNotices(deps.people);
  const json = bodyParser({ enableTypes: ["json"], jsonLimit: "4kb", encoding: "utf-8" });
  // Sign-in requests have no session yet to carry a token: the browser's word on where they come
  // from keeps another site from signing a visitor in as someone else (login CSRF).
  const fromThisSite: Middleware = async (ctx, next) => {
    if (!sameOrigin(ctx, deps.trustedProxies)) throw new AppError("csrf_refused", "a sign-in from another site");
    await next();
  };
  const links = deps.links;
  const noLinks = () => {
    throw new AppError("sign_in_unavailable", "no sign-in links here");
  };

  async function answer(ctx: Context, session: OpenSession, act: PersonAct): Promise<void> {
    ctx.body = await sessionJson(deps!, session, act, await notices.wanted(session.record.jid), now());
  }

  router.post("/session/link", noStore, fromThisSite, json, async (ctx) => {
    if (!links) return noLinks();
    const { jid } = jsonBody(ctx, linkRequest, SESSION_EXPECTED);
    await links.limits.consume(clientAddress(ctx.req, deps.trustedProxies), jid);
    // Answered before the work: the answer and its timing are the same whether or not it is sent.
    const work = links.links.send(jid);
    deps.sending?.(work);
    ctx.status = 202;
    ctx.body = { sent: true };
  });

  router.post("/session/link/redeem", noStore, fromThisSite, json, async (ctx) => {
    if (!links) return noLinks();
    const address = clientAddress(ctx.req, deps.trustedProxies);
    await deps.limits?.assertNotBlocked(address);
    const { token } = jsonBody(ctx, redeemRequest, SESSION_EXPECTED);
    const redeemed = await links.links.redeem(token);
    if (!redeemed) {
      await deps.limits?.recordFailure(address);
      throw new AppError("link_invalid", "unknown, expired or used sign-in link");
    }
    const session = await deps.sessions.startSession(ctx, { jid: redeemed.jid, host: redeemed.host, via: "link" });
    const act = deps.toCaller(redeemed.facts, { ...session.record, hash: session.hash });
    if (!act) {
      await deps.sessions.end(session.hash);
      throw new AppError("link_invalid", "the account may do nothing");
    }
    await answer(ctx, session, act);
  });

  const signedIn = [noStore, deps.gate.caller, deps.gate.required];
  const current = (ctx: Context) => {
    const state = ctx.state as SessionState;
    return { session: state.session!, act: { apiKey: state.apiKey!, person: state.person! } };
  };
  router.get("/session", ...signedIn, async (ctx) => {
    const { session, act } = current(ctx);
    await answer(ctx, session, act);
  });
  router.patch("/session", ...signedIn, json, async (ctx) => {
    const { notify } = jsonBody(ctx, sessionPatch, SESSION_EXPECTED);
    const { session, act } = current(ctx);
    await notices.set(session.record.jid, notify);
    await answer(ctx, session, act);
  });
  // Only the session and its CSRF check: signing out works while Prosody does not answer.
  router.delete("/session", noStore, deps.gate.session, async (ctx) => {
    const everywhere = ctx.query.everywhere;
    if (everywhere !== undefined && everywhere !== "true" && everywhere !== "false") {
      throw new AppError("bad_request", "everywhere: expected true or false");
    }
    const session = (ctx.state as SessionState).session;
    if (session) {
      if (everywhere === "true") await deps.sessions.endEverywhere(session.record.jid);
      await deps.sessions.end(session.hash);
      deps.gate.forget(session.hash);
    }
    deps.sessions.cookie.clear(ctx);
    ctx.status = 204;
  });
  router.all("/session", onlyMethods("GET, PATCH, DELETE"));
  router.all(["/session/link", "/session/link/redeem"], onlyMethods("POST"));
}

/** GET /session's answer. */
async function sessionJson(
  deps: SessionRouteDeps,
  { record }: OpenSession,
  { person }: PersonAct,
  notify: boolean,
  at: number,
): Promise<SessionJson> {
  let quota: SessionJson["quota"] = null;
  if (person.quota) {
    const windowMs = person.quota.durationSeconds * 1_000;
    const state = await deps.quotas.peek(person.jid, person.quota.points, windowMs, at);
    quota = {
      limit: state.limit,
      used: state.used,
      left: Math.max(0, state.limit - state.used),
      window_seconds: person.quota.durationSeconds,
      next_at: state.nextAt === undefined ? null : new Date(state.nextAt).toISOString(),
    };
  }
  return {
    jid: person.jid,
    host: person.host,
    role: person.role,
    via: record.via,
    powers: [...person.powers],
    circles: person.circles ? [...person.circles] : null,
    own_only: person.ownOnly,
    quota,
    notify,
    csrf: record.csrf,
    expires_at: new Date(deps.sessions.endsAt(record)).toISOString(),
  };
}
