// XEP-0401: Easy User Onboarding, managed through the commands (XEP-0050, forms of XEP-0004) of
// mod_invites_manage, the Prosody module this project ships (prosody-config/modules/).
import type { Element } from "@xmpp/component";
import { AppError } from "../errors.js";
import { executeCommand, type AdhocContext, type HostCommands } from "./adhoc.js";
import { readFormItems, readFormValues, submitForm } from "./dataForm.js";
import { ProsodyBadReplyError, ProsodyRefusedError } from "./errors.js";
import { INVITE_STATES, type InviteState } from "./inviteStates.js";

const NODE_PREFIX = "xmpp:invites-api/mod_invites_manage#";
export const MANAGE_NODES = {
  createAccount: `${NODE_PREFIX}create-account`,
  createGroup: `${NODE_PREFIX}create-group`,
  createReset: `${NODE_PREFIX}create-reset`,
  list: `${NODE_PREFIX}list`,
  show: `${NODE_PREFIX}show`,
  revoke: `${NODE_PREFIX}revoke`,
  account: `${NODE_PREFIX}account`,
  redemptions: `${NODE_PREFIX}redemptions`,
  options: `${NODE_PREFIX}options`,
  // The operator's controls (operatorControlsCommands.ts).
  budget: `${NODE_PREFIX}budget`,
  update: `${NODE_PREFIX}update`,
  // The invite page's door (inviteDoorCommands.ts).
  landing: `${NODE_PREFIX}landing`,
  checkName: `${NODE_PREFIX}name`,
  redeem: `${NODE_PREFIX}redeem`,
  // Who an account is, for people's sign-in (people.ts).
  person: `${NODE_PREFIX}person`,
} as const;

/** The payload of the <message/> the module sends the component when it records a registration. */
export const REDEEMED_NUDGE = "xmpp:invites-api/mod_invites_manage#redeemed";

// Apart, so that the wire schemas (src/http/wire/) need nothing of the XMPP side.
export { INVITE_STATES, type InviteState };

/** An invite as Prosody's mod_invites keeps it; times in Unix seconds. */
export interface ManagedInvite {
  readonly id: string;
  readonly type: string;
  readonly reusable: boolean;
  readonly inviter?: string;
  readonly jid: string;
  readonly uri: string;
  readonly landingPage?: string;
  readonly createdAt: number;
  readonly expires: number;
  readonly groups: readonly string[];
  readonly roles: readonly string[];
  readonly reset: boolean;
  readonly note?: string;
  readonly source?: string;
  /** Accounts registered with it so far (a single-use invite still pending: 0). */
  readonly uses: number;
  /** A reusable invite's cap. */
  readonly maxUses?: number;
  readonly state: InviteState;
  /** When it was used up or revoked, or when it expired (Unix seconds); absent while pending. */
  readonly closedAt?: number;
  /** The registrations through it, oldest first (the first 100); only when shown one by one. */
  readonly redemptions?: readonly Redemption[];
  /** The caller's reference given when it was made (at most 200 characters). */
  readonly ref?: string;
  /** Its upkeep (updateInvite), oldest first; only when shown one by one, by a module that keeps it. */
  readonly changes?: readonly InviteChangeRecord[];
  /**
   * A revoked invite's revoker, as the module keeps it: who the revoking JID said asked (e.g.
   * "invites-api/KEY_ID"), else that JID; absent when unknown or from an older module.
   */
  readonly revokedBy?: string;
}

/** A change of a pending invite, as the module's history keeps it. */
export interface InviteChangeRecord {
  readonly at: number;
  /** The JID that ran the command (the component, or an admin). */
  readonly by: string;
  /** Who that JID said asked, e.g. "invites-api/KEY_ID". */
  readonly actor?: string;
  /** What changed, as the module words it: "expires=T", "max_uses=N" or "max_uses=none", "note" or "no-note". */
  readonly what: string;
}

/** A registration through an invite; `deleted`: that account is gone (its name may be reused). */
export interface Redemption {
  readonly jid: string;
  readonly at: number;
  readonly deleted: boolean;
}

/** How an account came in: the invite (its id), when, and who made it. */
export interface Arrival {
  readonly jid: string;
  readonly id: string;
  readonly at: number;
  readonly source?: string;
  /** The invite's ref. */
  readonly ref?: string;
}

export interface NewInvite {
  readonly ttl?: number;
  readonly roles?: readonly string[];
  readonly groups?: readonly string[];
  readonly note?: string;
  /** Who asked, recorded with the invite, e.g. "invites-api/KEY_ID". */
  readonly source: string;
  /** A reusable invite registers at most this many accounts. */
  readonly maxUses?: number;
  /** The caller's reference, kept with the invite (at most 200 characters). */
  readonly ref?: string;
}

export interface PageRequest {
  /** The `next` of the previous page. */
  readonly after?: string;
  readonly limit: number;
  /** Pending (the default) or a state of the history. */
  readonly state?: InviteState;
}

/**
 * What a record of the feed tells: a registration or a password reset through an invite; with
 * `kinds` asked for, also an invite of the service that expired, and the host's pause, resumption
 * and registration budget used up.
 */
export const FEED_KINDS = ["registered", "reset", "expired", "paused", "resumed", "budget_exhausted"] as const;
export type FeedKind = (typeof FEED_KINDS)[number];

/**
 * One record of a host's feed: a registration (or password reset) through an invite, as the
 * module's records give it, or (asked for with `kinds`) another event of the host.
 */
export interface RedemptionRecord {
  /** Where the next read starts: pass it as `after`. */
  readonly cursor: string;
  /** registered or reset (all an older module, or a read without `kinds`, gives), or another event. */
  readonly kind: FeedKind;
  /** The invite's id; "" for the host's events (paused, resumed, budget_exhausted). */
  readonly id: string;
  /** The account; "" for an expiry and the host's events. */
  readonly jid: string;
  /** When it happened (Unix seconds); for an expiry, the invite's expiry. */
  readonly at: number;
  readonly source?: string;
  readonly reset: boolean;
  /** The invite's ref (registrations, resets, expiries). */
  readonly ref?: string;
  /** The invite's groups (registrations, resets, expiries; absent from an older module). */
  readonly groups?: readonly string[];
  /** Who paused or resumed: who the JID that did it said asked, else that JID. */
  readonly actor?: string;
  /** budget_exhausted: the budget whose window is full, and when the window ends (Unix seconds). */
  readonly budget?: { readonly count: number; readonly windowSeconds: number; readonly resetsAt: number };
}

/** One read of a host's records. */
export interface RedemptionPage {
  /** Those of the service's invites, oldest first. */
  readonly records: RedemptionRecord[];
  /**
   * The cursor of the last record the module examined, the service's or not: where the next read
   * starts. Absent from an older module (and when there was nothing to read).
   */
  readonly next?: string;
  /** Whether the module stopped before the last record; absent from an older module (a full page says so). */
  readonly more?: boolean;
}

/** What an invite may carry on a host: its groups, the roles the component may give, ttl bounds. */
export interface InviteOptions {
  readonly groups: ReadonlyArray<{ readonly id: string; readonly name: string }>;
  /** Roles within invites_manage_roles that the host knows (none on Prosody 0.12). */
  readonly roles: readonly string[];
  /** invites_manage_max_ttl, in seconds. */
  readonly maxTtl: number;
  /** The ttl of an account or group invite (Prosody's invite_expiry), and of a reset, when none is asked for. */
  readonly defaultTtl: number;
  readonly resetTtl: number;
  /**
   * The landing page mod_invites_page gives a made-up invite, when it is loaded on the host (an
   * older module does not say): `invites-api check` opens it to see that the page answers.
   */
  readonly invitePage?: string;
  /**
   * The modules the host's modules_enabled names that Prosody has not loaded (it failed to: its log
   * says why); absent from an older module, which does not say. For `invites-api check` only.
   */
  readonly modulesNotLoaded?: readonly string[];
}

export interface InvitePage {
  readonly invites: ManagedInvite[];
  readonly next?: string;
}

export interface InviteManager {
  /** Whether the host runs mod_invites_manage for this component (asked once per COMMANDS_TTL_MS). */
  available(host: string): Promise<boolean>;
  createAccount(host: string, invite: NewInvite & { username?: string }): Promise<ManagedInvite>;
  createGroup(host: string, invite: NewInvite & { groups: readonly string[] }): Promise<ManagedInvite>;
  createReset(
    host: string,
    invite: { username: string; ttl?: number; source: string; ref?: string },
  ): Promise<ManagedInvite>;
  /** One page of the pending invites the component may see, oldest first; `next` when there are more. */
  list(host: string, page: PageRequest): Promise<InvitePage>;
  show(host: string, id: string): Promise<ManagedInvite>;
  /**
   * The invite as it was (absent from an older module, which answers without it). `actor`: who
   * asked, e.g. "invites-api/KEY_ID", kept by the module as the invite's revoker.
   */
  revoke(host: string, id: string, actor?: string): Promise<ManagedInvite | undefined>;
  /** Which invite let `username` in; `invite_not_found` without a record the component may see. */
  account(host: string, username: string): Promise<Arrival>;
  /**
   * Up to `max` records of the service's invites after the cursor, oldest first; the module examines
   * a bounded number of records per call, so fewer may come with `more`.
   */
  redemptions(host: string, page: { after?: string; max: number; kinds?: boolean }): Promise<RedemptionPage>;
  /** What an invite may carry on the host, for a form that offers only what will be accepted. */
  options(host: string): Promise<InviteOptions>;
}

// An invite's `source` names the API key that made it; mod_invites_manage recognises its invites
// made before it recorded their maker by this prefix.
const SOURCE_PREFIX = "invites-api/";
export const sourceOfKey = (keyId: string): string => `${SOURCE_PREFIX}${keyId}`;
/** The id of the key that made an invite, from its source; null when no key made it. */
export const keyOfSource = (source: string | undefined): string | null =>
  source?.startsWith(SOURCE_PREFIX) ? source.slice(SOURCE_PREFIX.length) : null;

export const notLoaded = (host: string): AppError =>
  new AppError("not_implemented", `load "invites_manage" under VirtualHost "${host}" (see prosody-config/modules)`);

const one = (values: Map<string, string[]>, name: string): string | undefined => values.get(name)?.[0] || undefined;
const yes = (value: string | undefined): boolean => value === "true" || value === "1";

/** An invite from the fields of a result form (create, show, revoke, update). */
export function inviteFrom(values: Map<string, string[]>, host: string): ManagedInvite {
  const id = one(values, "id");
  const uri = one(values, "uri");
  const createdAt = Number(one(values, "created"));
  const expires = Number(one(values, "expires"));
  if (!id || !uri || !Number.isFinite(createdAt) || !Number.isFinite(expires)) {
    throw new ProsodyBadReplyError(host, "an invite without id, uri, created or expires");
  }
  const optional = (name: string, key: string) => (one(values, name) ? { [key]: one(values, name) } : {});
  const maxUses = Number(one(values, "max-uses"));
  const state = one(values, "state") ?? "pending";
  const closedAt = Number(one(values, "closed"));
  const redemptions = values.get("redemptions")?.flatMap((line) => {
    const match = /^(\d+) (\S+)( deleted)?$/.exec(line);
    return match ? [{ jid: match[2] ?? "", at: Number(match[1]), deleted: match[3] !== undefined }] : [];
  });
  const changes = values.get("changes")?.flatMap((line): InviteChangeRecord[] => {
    const match = /^(\d+) (\S+) (\S+) (.*)$/.exec(line);
    if (!match) return [];
    const [, at, by = "", actor = "-", what = ""] = match;
    return [{ at: Number(at), by, ...(actor === "-" ? {} : { actor }), what }];
  });
  return {
    id,
    type: one(values, "type") ?? "register",
    reusable: yes(one(values, "reusable")),
    ...optional("inviter", "inviter"),
    jid: one(values, "jid") ?? host,
    uri,
    ...optional("landing-url", "landingPage"),
    createdAt,
    expires,
    groups: values.get("groups") ?? [],
    roles: values.get("roles") ?? [],
    reset: yes(one(values, "reset")),
    ...optional("note", "note"),
    ...optional("source", "source"),
    uses: Number(one(values, "uses") ?? 0) || 0,
    ...(Number.isInteger(maxUses) && maxUses > 0 ? { maxUses } : {}),
    state: (INVITE_STATES as readonly string[]).includes(state) ? (state as InviteState) : "pending",
    ...(one(values, "closed") && Number.isFinite(closedAt) ? { closedAt } : {}),
    ...(redemptions ? { redemptions } : {}),
    ...optional("ref", "ref"),
    ...(changes ? { changes } : {}),
    ...optional("revoked-by", "revokedBy"),
  };
}

const whole = (value: string | undefined): number | undefined => {
  const n = Number(value);
  return value && Number.isInteger(n) && n >= 0 ? n : undefined;
};

/** A record of the feed; a registration without cursor, id, jid or time is a bad reply, never skipped. */
function feedRecordFrom(values: Map<string, string[]>, host: string): RedemptionRecord {
  const cursor = one(values, "cursor");
  const id = one(values, "id") ?? "";
  const jid = one(values, "jid") ?? "";
  const at = Number(one(values, "at"));
  const reset = yes(one(values, "reset"));
  const given = one(values, "kind") ?? (reset ? "reset" : "registered");
  if (!(FEED_KINDS as readonly string[]).includes(given)) {
    throw new ProsodyBadReplyError(host, `a record of an unknown kind ${given}`);
  }
  const kind = given as FeedKind;
  // Never skipped: the cursor must not pass a record that was not counted.
  const needsId = kind === "registered" || kind === "reset" || kind === "expired";
  const needsJid = kind === "registered" || kind === "reset";
  if (!cursor || (needsId && !id) || (needsJid && !jid) || !Number.isFinite(at)) {
    throw new ProsodyBadReplyError(host, "a registration record without cursor, id, jid or time");
  }
  const [count, windowSeconds, resetsAt] = [
    whole(one(values, "count")),
    whole(one(values, "window")),
    whole(one(values, "resets-at")),
  ];
  const expires = whole(one(values, "expires"));
  const optional = (name: string, key: string) => (one(values, name) ? { [key]: one(values, name) } : {});
  return {
    cursor,
    kind,
    id,
    jid,
    at: kind === "expired" && expires !== undefined ? expires : at,
    reset,
    ...optional("source", "source"),
    ...optional("ref", "ref"),
    ...optional("actor", "actor"),
    ...(values.get("groups")?.some(Boolean) ? { groups: values.get("groups")?.filter(Boolean) ?? [] } : {}),
    ...(kind === "budget_exhausted" && count !== undefined && windowSeconds !== undefined && resetsAt !== undefined
      ? { budget: { count, windowSeconds, resetsAt } }
      : {}),
  };
}

/** The module's refusals of a client's input become the client's errors; the rest stay Prosody's. */
function clientError(err: unknown, host: string): unknown {
  if (!(err instanceof ProsodyRefusedError)) return err;
  const text = err.text || err.condition;
  switch (err.condition) {
    case "bad-request":
      return new AppError("bad_request", text);
    case "conflict":
      return new AppError("user_exists", text);
    case "not-allowed":
      return new AppError("account_protected", text);
    case "feature-not-implemented":
      return new AppError("not_implemented", `${host}: ${text}`);
    default:
      return err;
  }
}

export function createInviteManager(ctx: AdhocContext, commands: HostCommands): InviteManager {
  const available = async (host: string): Promise<boolean> =>
    (await commands(host)).includes(MANAGE_NODES.createAccount);

  async function run(host: string, node: string, fields: Record<string, string | readonly string[] | undefined>) {
    if (!(await available(host))) throw notLoaded(host);
    try {
      return await executeCommand(ctx, host, node, { form: submitForm(fields) });
    } catch (err) {
      throw clientError(err, host);
    }
  }

  async function created(host: string, command: Promise<Element>): Promise<ManagedInvite> {
    const values = readFormValues(await command);
    if (!values) throw new ProsodyBadReplyError(host, "no result form for the new invite");
    return inviteFrom(values, host);
  }

  const common = (invite: NewInvite) => ({
    ttl: invite.ttl === undefined ? undefined : String(invite.ttl),
    roles: invite.roles,
    groups: invite.groups,
    note: invite.note,
    source: invite.source,
    max_uses: invite.maxUses?.toString(),
    ref: invite.ref,
  });

  /**
   * item-not-found names what the command was given (a token, an account), not the command: that
   * the host has the command was checked first.
   */
  async function notFoundAs<T>(missing: () => AppError, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof ProsodyRefusedError && err.condition === "item-not-found") throw missing();
      throw err;
    }
  }
  const noInvite = (host: string) => () => new AppError("invite_not_found", `no invite with this id on ${host}`);
  const noPendingInvite = (host: string) => () => new AppError("invite_not_found", `no invite with this id on ${host}`);

  return {
    available,
    createAccount: (host, invite) =>
      created(host, run(host, MANAGE_NODES.createAccount, { ...common(invite), username: invite.username })),
    createGroup: (host, invite) => created(host, run(host, MANAGE_NODES.createGroup, common(invite))),
    createReset: (host, invite) => {
      const fields = { username: invite.username, ttl: invite.ttl?.toString(), source: invite.source, ref: invite.ref };
      const noUser = () => new AppError("user_not_found", `no account ${invite.username} on ${host}`);
      return notFoundAs(noUser, () => created(host, run(host, MANAGE_NODES.createReset, fields)));
    },
    list: async (host, { after, limit, state }) => {
      const table = readFormItems(await run(host, MANAGE_NODES.list, { after, max: String(limit), state }));
      if (!table) throw new ProsodyBadReplyError(host, "no result form for the list of invites");
      const next = one(table.fields, "next");
      return { invites: table.items.map((values) => inviteFrom(values, host)), ...(next ? { next } : {}) };
    },
    show: (host, id) => notFoundAs(noInvite(host), () => created(host, run(host, MANAGE_NODES.show, { id }))),
    revoke: (host, id, actor) =>
      notFoundAs(noPendingInvite(host), async () => {
        const values = readFormValues(await run(host, MANAGE_NODES.revoke, { id, actor }));
        return values ? inviteFrom(values, host) : undefined;
      }),
    account: (host, username) =>
      notFoundAs(
        () => new AppError("invite_not_found", `no record of an invite for ${username} on ${host}`),
        async () => {
          const values = readFormValues(await run(host, MANAGE_NODES.account, { username }));
          const id = values && one(values, "id");
          const at = Number(values && one(values, "at"));
          if (!values || !id || !Number.isFinite(at)) throw new ProsodyBadReplyError(host, "no arrival in the answer");
          const source = one(values, "source");
          const ref = one(values, "ref");
          return {
            jid: one(values, "jid") ?? `${username}@${host}`,
            id,
            at,
            ...(source ? { source } : {}),
            ...(ref ? { ref } : {}),
          };
        },
      ),
    redemptions: async (host, { after, max, kinds }) => {
      const fields = { after, max: String(max), partial: "true", kinds: kinds ? "true" : undefined };
      const table = readFormItems(await run(host, MANAGE_NODES.redemptions, fields));
      if (!table) throw new ProsodyBadReplyError(host, "no result form for the registration records");
      const records = table.items.map((values) => feedRecordFrom(values, host));
      const next = one(table.fields, "next");
      const more = one(table.fields, "more");
      return { records, ...(next ? { next } : {}), ...(more === undefined ? {} : { more: yes(more) }) };
    },
    options: async (host) => {
      // A module from before this command: say what to update rather than pass Prosody's refusal on.
      if ((await available(host)) && !(await commands(host)).includes(MANAGE_NODES.options)) {
        throw new AppError(
          "not_implemented",
          `update mod_invites_manage under VirtualHost "${host}": it has no options`,
        );
      }
      const table = readFormItems(await run(host, MANAGE_NODES.options, {}));
      const seconds = (name: string) => Number(table && one(table.fields, name));
      const [maxTtl, defaultTtl, resetTtl] = [seconds("max-ttl"), seconds("default-ttl"), seconds("reset-ttl")];
      if (!table || ![maxTtl, defaultTtl, resetTtl].every((n) => Number.isInteger(n) && n > 0)) {
        throw new ProsodyBadReplyError(host, "no invite options in the answer");
      }
      const groups = table.items.flatMap((values) => {
        const id = one(values, "id");
        return id ? [{ id, name: one(values, "name") ?? id }] : [];
      });
      const roles = (table.fields.get("roles") ?? []).filter(Boolean);
      const invitePage = one(table.fields, "invite-page");
      const modulesNotLoaded = table.fields.get("modules-not-loaded")?.filter(Boolean);
      return {
        groups,
        roles,
        maxTtl,
        defaultTtl,
        resetTtl,
        ...(invitePage ? { invitePage } : {}),
        ...(modulesNotLoaded ? { modulesNotLoaded } : {}),
      };
    },
  };
}
