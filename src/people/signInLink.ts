import { randomBytes } from "node:crypto";
import type { Logger } from "../log.js";
import type { CallerFor } from "./sessionCaller.js";
import { hashOf } from "./sessions.js";
import type { MessageSender, OneTimeStore, PersonFacts, PersonLookup } from "./types.js";
import { SIGN_IN_TOKEN } from "./wire.js";

/**
 * Signing in on any Prosody (issue 29): a one-time link the component sends to the account as an
 * XMPP message, so only who can read that account's messages can use it. The token travels in the
 * link's fragment (`/admin/#sign-in=TOKEN`), which no server log or Referer carries; the store keeps
 * only its SHA-256, for minutes, and gives it back once (OneTimeStore.take: read and delete in one
 * atomic step, across instances). The link is made from PUBLIC_URL, never from a request's Host: a
 * forged Host would otherwise send the person a valid token on a link to someone else's site.
 */
export interface SignInLinks {
  /**
   * Sends `jid` a sign-in link when its host is served, the account exists, is enabled and its role
   * gives something; else nothing. Says nothing either way (no account enumeration) and never
   * throws: what fails is logged.
   */
  send(jid: string): Promise<void>;
  /** The account a token was sent to and Prosody's facts now; once; undefined when unknown, expired, used, or the person may no longer sign in. */
  redeem(token: string): Promise<{ jid: string; host: string; facts: PersonFacts } | undefined>;
}

export interface SignInLinkDeps {
  /** PUBLIC_URL, without its trailing slash. */
  readonly publicUrl: string;
  readonly oneTime: OneTimeStore;
  readonly lookup: PersonLookup;
  readonly messages: MessageSender;
  /** Whether the service serves a host (cachedKnownHosts): no other host is asked about anyone. */
  readonly knownHost: (host: string) => Promise<boolean>;
  readonly toCaller: CallerFor;
  readonly ttlMs: number;
  /** Whether the account, as Prosody names it, may get one more link (SignInLimits.allowsPrepped). */
  readonly allowsPrepped?: (typed: string, prepped: string) => Promise<boolean>;
  readonly log: Logger;
  readonly now?: () => number;
}

const tokenId = (token: string) => `sign-in:${hashOf(token)}`;

export function createSignInLinks(deps: SignInLinkDeps): SignInLinks {
  const now = deps.now ?? Date.now;
  const minutes = Math.max(1, Math.round(deps.ttlMs / 60_000));

  /**
   * Prosody's facts when `jid` may sign in at all, with the account's one name (Prosody's prepped
   * JID: "Alice@Example.com" and its other forms are one person, one quota); undefined otherwise.
   */
  async function mayAct(jid: string, host: string): Promise<(PersonFacts & { jid: string }) | undefined> {
    if (!(await deps.knownHost(host))) return undefined;
    const facts = await deps.lookup.person(host, jid);
    if (!facts.exists || !facts.enabled) return undefined;
    const named = { ...facts, jid: facts.jid ?? jid };
    return deps.toCaller(named, { jid: named.jid, host, createdAt: now(), hash: "" }) ? named : undefined;
  }

  return {
    async send(jid) {
      const host = jid.slice(jid.lastIndexOf("@") + 1);
      let token = "";
      try {
        const facts = await mayAct(jid, host);
        if (!facts) {
          deps.log.info({ person: jid }, "sign-in link not sent: no such account here, or it may do nothing");
          return;
        }
        if (deps.allowsPrepped && !(await deps.allowsPrepped(jid, facts.jid))) {
          deps.log.info({ person: facts.jid }, "sign-in link not sent: too many for this account");
          return;
        }
        token = randomBytes(32).toString("base64url");
        await deps.oneTime.put(tokenId(token), JSON.stringify({ jid: facts.jid, host }), deps.ttlMs);
        const link = `${deps.publicUrl}/admin/#sign-in=${token}`;
        await deps.messages.send(
          facts.jid,
          `Your sign-in link for the invites page of ${host}: ${link}\n` +
            `It works once, for ${minutes} minute${minutes === 1 ? "" : "s"}. If you did not ask for it, ignore this message.`,
        );
        deps.log.info({ person: jid }, "sign-in link sent");
      } catch (err) {
        const { name, message = "", code } = err as { name?: string; message?: string; code?: string };
        // Never the token, whatever a failure's message quotes.
        const safe = token ? message.replaceAll(token, "[token]") : message;
        deps.log.warn({ person: jid, err: { name, message: safe, code } }, "sign-in link not sent: it failed");
      }
    },

    async redeem(token) {
      if (!SIGN_IN_TOKEN.test(token)) return undefined;
      const value = await deps.oneTime.take(tokenId(token));
      if (value === undefined) return undefined;
      const { jid, host } = JSON.parse(value) as { jid: string; host: string };
      // Minutes have passed: the account may have gone or lost its powers since.
      const facts = await mayAct(jid, host);
      return facts ? { jid: facts.jid, host, facts } : undefined;
    },
  };
}
