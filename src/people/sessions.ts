import { createHash, randomBytes } from "node:crypto";
import type Keyv from "keyv";
import type { Context } from "koa";
import { AppError } from "../errors.js";
import { sessionCookie, type SessionCookie } from "./cookies.js";
import type { SessionRecord } from "./types.js";

/**
 * People's sessions (issue 29), in ServiceStore.people, so that every instance sharing the store
 * knows each one: `session:HASH` (HASH = SHA-256 of the cookie's value: the store never holds a
 * value a browser could send) keeps a SessionRecord for the idle timeout, written again at most once
 * a minute while used; `signout:JID` holds the time of the person's last "sign out everywhere",
 * before which every session of theirs is refused.
 */

/** A session as a request meets it: its record and the hash it is kept under. */
export interface OpenSession {
  readonly hash: string;
  readonly record: SessionRecord;
}

export interface Who {
  readonly jid: string;
  readonly host: string;
  readonly via: SessionRecord["via"];
}

export interface Sessions {
  /** Mints a fresh session: `id` is the cookie's value and exists nowhere else. */
  create(who: Who): Promise<OpenSession & { id: string }>;
  /** The session of a cookie's value; undefined when unknown, idle too long, past its lifetime or signed out. */
  read(id: string): Promise<OpenSession | undefined>;
  /** Marks the session used now: written at most once a minute (its store TTL starts again). */
  touch(session: OpenSession): Promise<void>;
  end(hash: string): Promise<void>;
  /** Ends every session of `jid`, in every instance, this one included. */
  endEverywhere(jid: string): Promise<void>;
  /**
   * Signs a person in on this request: ends the session its cookie named (if any), mints a fresh
   * one and sets the cookie to it; a value sent before is never taken over (no fixation).
   */
  startSession(ctx: Context, who: Who): Promise<OpenSession>;
  /** When the session ends at the latest (its lifetime; being idle ends it sooner), unix ms. */
  endsAt(record: SessionRecord): number;
  readonly cookie: SessionCookie;
}

export interface SessionOptions {
  /** ServiceStore.people. */
  readonly people: Keyv;
  readonly lifetimeMs: number;
  readonly idleMs: number;
  /** PUBLIC_URL is https: the cookie is `__Host-` and Secure. */
  readonly secure: boolean;
  readonly now?: () => number;
}

/** A session in use is written again (lastSeenAt, its TTL) at most this often. */
export const TOUCH_EVERY_MS = 60_000;

const randomValue = (): string => randomBytes(32).toString("base64url");
export const hashOf = (value: string): string => createHash("sha256").update(value).digest("base64url");
const sessionKey = (hash: string) => `session:${hash}`;
const signoutKey = (jid: string) => `signout:${jid}`;

function storeFailed(err: unknown): AppError {
  return err instanceof AppError ? err : new AppError("store_unavailable", "session store failed", { cause: err });
}

export function createSessions(opts: SessionOptions): Sessions {
  const now = opts.now ?? Date.now;
  const cookie = sessionCookie(opts.secure);
  const endsAt = (record: SessionRecord) => record.createdAt + opts.lifetimeMs;
  // Kept while it may still be used: idle timeout, never past its lifetime.
  const ttlOf = (record: SessionRecord, at: number) => Math.max(1, Math.min(opts.idleMs, endsAt(record) - at));

  async function write(hash: string, record: SessionRecord, at: number): Promise<void> {
    try {
      await opts.people.set(sessionKey(hash), record, ttlOf(record, at));
    } catch (err) {
      throw storeFailed(err);
    }
  }

  async function end(hash: string): Promise<void> {
    try {
      await opts.people.delete(sessionKey(hash));
    } catch (err) {
      throw storeFailed(err);
    }
  }

  async function create(who: Who): Promise<OpenSession & { id: string }> {
    const at = now();
    const id = randomValue();
    const hash = hashOf(id);
    const record: SessionRecord = {
      jid: who.jid,
      host: who.host,
      via: who.via,
      createdAt: at,
      lastSeenAt: at,
      csrf: randomValue(),
    };
    await write(hash, record, at);
    return { id, hash, record };
  }

  return {
    cookie,
    endsAt,
    create,
    end,

    async read(id) {
      const hash = hashOf(id);
      let record: SessionRecord | undefined;
      let signedOutAt: number | undefined;
      try {
        record = await opts.people.get<SessionRecord>(sessionKey(hash));
        if (!record) return undefined;
        signedOutAt = await opts.people.get<number>(signoutKey(record.jid));
      } catch (err) {
        throw storeFailed(err);
      }
      const at = now();
      // The store's TTL drops an idle session too, but not every store drops it on the dot.
      const over =
        at >= endsAt(record) ||
        at >= record.lastSeenAt + opts.idleMs ||
        (signedOutAt !== undefined && record.createdAt <= signedOutAt);
      if (over) {
        await end(hash);
        return undefined;
      }
      return { hash, record };
    },

    async touch({ hash, record }) {
      const at = now();
      if (at - record.lastSeenAt < TOUCH_EVERY_MS) return;
      await write(hash, { ...record, lastSeenAt: at }, at);
    },

    async endEverywhere(jid) {
      try {
        // Kept a lifetime: by then every session made before it has ended anyway.
        await opts.people.set(signoutKey(jid), now(), opts.lifetimeMs);
      } catch (err) {
        throw storeFailed(err);
      }
    },

    async startSession(ctx, who) {
      const before = cookie.read(ctx);
      if (before !== undefined) await end(hashOf(before));
      const { id, hash, record } = await create(who);
      cookie.set(ctx, id, opts.lifetimeMs);
      return { hash, record };
    },
  };
}
