// XEP-0401: Easy User Onboarding, from the side of the person who opens an invite link: what the
// invite page (src/invitePage/) may learn of a token and do with it, through mod_invites_manage's
// landing, name and redeem commands (XEP-0050, forms of XEP-0004). The component sees an invite
// here only when its effect is within invites_manage_roles, whoever made it: one above the
// ceiling is `invite_not_found`, as an unknown token is, and keeps Prosody's own page.

/** Where an invite stands; a token Prosody does not know (or the service may not see) throws instead. */
export const LANDING_STATES = ["pending", "used", "expired", "revoked"] as const;
export type LandingState = (typeof LANDING_STATES)[number];

/** What the page may show of an invite: what Prosody's own page would, never its note, key or source. */
export interface InviteLanding {
  readonly host: string;
  readonly state: LandingState;
  /** account: registers a new account (a named one when `username` is set); reset: a new password for `username`. */
  readonly kind: "account" | "reset";
  /** The name a named account invite reserves, or the account a reset is for. */
  readonly username?: string;
  /** The bare JID of whoever invites, when the invite names one (Prosody's `inviter`). */
  readonly inviter?: string;
  /** The display names of the groups the new account joins (invites_manage_groups, else the id). */
  readonly groups: readonly string[];
  /** The XEP-0401 `xmpp:` URI that hands the invite to an app; only while pending. */
  readonly uri?: string;
  /** Unix seconds. */
  readonly expires: number;
  /** A reusable invite with a use cap: the registrations it still admits. */
  readonly usesLeft?: number;
  /** The host's registrations are paused (issue 30): the page says so before anyone fills the form. */
  readonly paused?: boolean;
}

/** Whether a name may be registered now: `invalid` when nodeprep refuses it (or it is too long). */
export type NameCheck = "free" | "taken" | "invalid";

export interface Registration {
  /** The new account's name; ignored for a reset (the invite names the account) and a named invite. */
  readonly username?: string;
  readonly password: string;
  /** The client's address, for Prosody's registration hooks (mod_register_limits and the like). */
  readonly ip?: string;
}

export interface InviteDoor {
  /** Throws `invite_not_found` for a token Prosody does not know or the service may not see. */
  landing(host: string, token: string): Promise<InviteLanding>;
  /** Throws `invite_not_found`, or `invite_gone` when the invite is no longer pending. */
  checkName(host: string, token: string, username: string): Promise<NameCheck>;
  /**
   * Registers the account (or sets a reset's password) as an in-band registration through the
   * invite would: its roles and groups, use cap, history, webhooks and key counts all see it.
   * Throws `invite_not_found`, `invite_gone`, `user_exists` (name taken), `bad_request` (name
   * refused by nodeprep, password refused: the message says which, never the password).
   */
  redeem(host: string, token: string, registration: Registration): Promise<{ readonly jid: string }>;
}
