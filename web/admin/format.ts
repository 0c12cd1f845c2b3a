import type { Invite, Options } from "./types.js";

// Made on first use: building it loads the locale's data, which would delay the first paint.
let dates: Intl.DateTimeFormat | undefined;

/** A Unix time as a person reads it, in their own locale and time zone. */
export function when(seconds: number): string {
  dates ??= new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  return dates.format(new Date(seconds * 1_000));
}

const UNITS: Array<[number, string]> = [
  [604_800, "week"],
  [86_400, "day"],
  [3_600, "hour"],
  [60, "minute"],
  [1, "second"],
];

/** 604800 → "1 week", 7200 → "2 hours": the largest unit that divides it. */
export function duration(seconds: number): string {
  const [size, unit] = UNITS.find(([size]) => seconds % size === 0) ?? [1, "second"];
  const count = seconds / size;
  return `${count} ${unit}${count === 1 ? "" : "s"}`;
}

const user = (jid: string): string | undefined => (jid.includes("@") ? jid.slice(0, jid.lastIndexOf("@")) : undefined);

/** What an invite is, in a few words: "Account invite for alice", "Group invite: Team". */
export function describe(invite: Invite, options: Options): string {
  const name = user(invite.jid);
  if (invite.reset) return `Password reset for ${name ?? invite.jid}`;
  if (invite.reusable) return `Group invite: ${groupNames(invite.groups, options)}`;
  return name ? `Account invite for ${name}` : "Account invite";
}

export const groupNames = (ids: readonly string[], options: Options): string =>
  ids.map((id) => options.groups.find((group) => group.id === id)?.name ?? id).join(", ");

export const STATE_NAMES: Record<string, string> = {
  pending: "Pending",
  used: "Used",
  expired: "Expired",
  revoked: "Revoked",
};

/** "Expires …" while pending, else when it was used up, expired or revoked. */
export function closing(invite: Invite): [string, string] {
  if (invite.state === "pending" || invite.closed_at === null) return ["Expires", when(invite.expires)];
  return [STATE_NAMES[invite.state] ?? invite.state, when(invite.closed_at)];
}

/** The key that made it, from `source` (invites-api/KEY_ID). */
export const madeBy = (invite: Invite): string | undefined =>
  invite.source?.startsWith("invites-api/") ? `key ${invite.source.slice("invites-api/".length)}` : undefined;

/** Where a person goes: the invite's web page, or its xmpp: URI on a host without one. */
export const linkOf = (invite: Invite): string => invite.landing_page ?? invite.uri;
