import type Router from "@koa/router";
import type { Middleware } from "koa";
import { bodyParser } from "@koa/bodyparser";
import type { RateLimits } from "../limits/rateLimits.js";
import type { Logger } from "../log.js";
import type { InviteDoor } from "../xmpp/inviteDoor.js";
import { loadApps, type App } from "./apps.js";
import { serveInviteAssets, type InviteAssets } from "./assets.js";
import { createTranslators, loadCatalogues } from "./i18n.js";
import { landingRoute } from "./landingRoute.js";
import { nameRoute } from "./nameRoute.js";
import { signupRoute } from "./signupRoute.js";
import type { KnownHost } from "./target.js";

export interface InvitePageDeps {
  /** What the page may learn of an invite and do with it (src/xmpp/inviteDoor.ts). */
  readonly door: InviteDoor;
  /** Whether a host is one this service serves: any other is "not valid" before Prosody hears of it. */
  readonly knownHost: KnownHost;
  /** The built script and style (loadInviteAssets). */
  readonly assets: InviteAssets;
  /** The apps suggested per platform; apps.json by default. */
  readonly apps?: readonly App[];
}

/**
 * The invite page, where an invite link (Prosody's invites_page) leads: GET /invite/HOST/TOKEN,
 * its name check at /invite/HOST/TOKEN/name, the sign-up form posted to /invite/HOST/TOKEN, and
 * the page's files at /invite/assets/FILE. No key: the token is the credential, as in Prosody.
 */
export function mountInvitePage(
  router: Router,
  deps: InvitePageDeps & { limits: RateLimits; trustedProxies: number; log: Logger },
  onlyMethods: (allow: string) => Middleware,
): void {
  const kit = {
    ...deps,
    apps: deps.apps ?? loadApps(),
    translate: createTranslators(loadCatalogues()),
  };
  // A form of a few fields: no reason to read more than this.
  const form = bodyParser({ enableTypes: ["form"], formLimit: "8kb", encoding: "utf-8" });
  router.get("/invite/assets/:file", serveInviteAssets(deps.assets));
  router.get("/invite/:host/:token", landingRoute(kit));
  router.post("/invite/:host/:token", form, signupRoute(kit));
  router.get("/invite/:host/:token/name", nameRoute(kit));
  router.all("/invite/:host/:token", onlyMethods("GET, POST"));
  router.all("/invite/:host/:token/name", onlyMethods("GET"));
}
