import type { RateLimits } from "../limits/rateLimits.js";
import type { Logger } from "../log.js";
import type { InviteDoor } from "../xmpp/inviteDoor.js";
import type { App } from "./apps.js";
import type { InviteAssets } from "./assets.js";
import type { Language, Translate } from "./i18n.js";
import type { KnownHost } from "./target.js";

/** What the invite page's routes share: built once by routes.ts. */
export interface PageKit {
  readonly door: InviteDoor;
  readonly knownHost: KnownHost;
  readonly limits: RateLimits;
  readonly trustedProxies: number;
  readonly log: Logger;
  readonly apps: readonly App[];
  readonly translate: (lang: Language) => Translate;
  readonly assets: InviteAssets;
}
