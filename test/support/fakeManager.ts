import { AppError } from "../../src/errors.js";
import type { InviteManager, ManagedInvite, NewInvite } from "../../src/xmpp/inviteManager.js";

/**
 * An in-memory stand-in for mod_invites_manage, for unit tests of the HTTP layer: it keeps invites
 * per host and records each call. `loaded: false` plays a host without the module.
 */
export function fakeManager(opts: { loaded?: boolean; now?: () => number } = {}) {
  const invites = new Map<string, ManagedInvite & { host: string }>();
  const calls: Array<{ op: string; host: string; args?: unknown }> = [];
  const state = { loaded: opts.loaded ?? true, next: 0 };
  const seconds = () => Math.floor((opts.now?.() ?? Date.now()) / 1_000);

  function make(host: string, invite: NewInvite & { username?: string; reset?: boolean; reusable?: boolean }) {
    if (!state.loaded) throw new AppError("not_implemented", `load "invites_manage" under VirtualHost "${host}"`);
    state.next += 1;
    const id = `tok${state.next}`;
    const stored = {
      host,
      id,
      type: "register",
      reusable: invite.reusable ?? false,
      jid: invite.username ? `${invite.username}@${host}` : host,
      uri: `xmpp:${host}?register;preauth=${id}`,
      landingPage: `https://${host}/invite?${id}`,
      createdAt: seconds(),
      expires: seconds() + (invite.ttl ?? 604_800),
      groups: invite.groups ?? [],
      roles: invite.roles ?? [],
      reset: invite.reset ?? false,
      ...(invite.note ? { note: invite.note } : {}),
      ...(invite.ref ? { ref: invite.ref } : {}),
      source: invite.source,
      uses: 0,
      state: "pending" as const,
      ...(invite.maxUses ? { maxUses: invite.maxUses } : {}),
    };
    invites.set(id, stored);
    const { host: _host, ...managed } = stored;
    return managed;
  }

  const find = (host: string, id: string) => {
    const invite = invites.get(id);
    if (!invite || invite.host !== host) throw new AppError("invite_not_found", "no pending invite with this id");
    const { host: _host, ...managed } = invite;
    return managed;
  };

  const manager: InviteManager = {
    available: async () => state.loaded,
    createAccount: async (host, invite) => (calls.push({ op: "account", host, args: invite }), make(host, invite)),
    createGroup: async (host, invite) => {
      calls.push({ op: "group", host, args: invite });
      return make(host, { ...invite, reusable: true });
    },
    createReset: async (host, invite) => {
      calls.push({ op: "reset", host, args: invite });
      return make(host, { ...invite, reset: true });
    },
    list: async (host, page) => {
      calls.push({ op: "list", host, args: page });
      const all = [...invites.values()].filter((i) => i.host === host).map(({ host: _h, ...invite }) => invite);
      const from = page.after ? all.findIndex((i) => `${i.createdAt}.${i.id}` === page.after) + 1 : 0;
      const slice = all.slice(from, from + page.limit);
      const last = slice.at(-1);
      return {
        invites: slice,
        ...(last && from + page.limit < all.length ? { next: `${last.createdAt}.${last.id}` } : {}),
      };
    },
    show: async (host, id) => (calls.push({ op: "show", host }), find(host, id)),
    account: async (host, username) => {
      calls.push({ op: "account", host, args: username });
      throw new AppError("invite_not_found", `no record of an invite for ${username}`);
    },
    redemptions: async (host, page) => (calls.push({ op: "redemptions", host, args: page }), { records: [] }),
    options: async (host) => {
      calls.push({ op: "options", host });
      if (!state.loaded) throw new AppError("not_implemented", `load "invites_manage" under VirtualHost "${host}"`);
      return {
        groups: [{ id: "team", name: "Team" }],
        roles: ["prosody:member"],
        maxTtl: 2_592_000,
        defaultTtl: 604_800,
        resetTtl: 86_400,
      };
    },
    revoke: async (host, id, actor) => {
      calls.push({ op: "revoke", host, args: actor });
      const invite = find(host, id);
      invites.delete(id);
      return { ...invite, state: "revoked" as const, ...(actor ? { revokedBy: actor } : {}) };
    },
  };
  return { manager, calls, state };
}
