/** What became of an invite: still valid, used up, past its expiry unused (or not used up), revoked. */
export const INVITE_STATES = ["pending", "used", "expired", "revoked"] as const;
export type InviteState = (typeof INVITE_STATES)[number];
