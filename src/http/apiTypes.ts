// The JSON bodies the /invites resource answers with. No imports: the admin page (web/admin/)
// type-checks against this same file, so the page and the service cannot drift apart unnoticed.

/**
 * The /invites resource, shaped like mod_http_admin_api's invites so that tools written for it
 * port easily: same request fields, same invite fields, times in Unix seconds.
 */
export interface InviteJson {
  id: string;
  type: string;
  reusable: boolean;
  inviter: string | null;
  jid: string;
  uri: string;
  landing_page: string | null;
  created_at: number;
  expires: number;
  groups: readonly string[];
  roles: readonly string[];
  reset: boolean;
  note: string | null;
  source: string | null;
  uses: number;
  max_uses: number | null;
  /** pending, used, expired or revoked. */
  state: string;
  /** When it was used up, revoked or expired; null while pending. */
  closed_at: number | null;
  /** Only when one invite is shown. */
  redemptions?: ReadonlyArray<{ jid: string; at: number; deleted: boolean }>;
}

/** GET /invites/options: what the key may do and what an invite may carry on its host. */
export interface InviteOptionsJson {
  host: string;
  key: string;
  scopes: readonly string[];
  /** The powers of this key (src/keys/powers.ts): what a page should offer its holder. */
  can: readonly string[];
  groups: ReadonlyArray<{ id: string; name: string }>;
  roles: readonly string[];
  /** The longest ttl an invite of this key may have: the module's, or the key's --max-ttl if lower. */
  max_ttl: number;
  /** The ttl each kind of invite gets when the request names none. */
  default_ttl: { account: number; group: number; reset: number };
}
