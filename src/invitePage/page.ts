import type { Context } from "koa";
import type { InviteAssets } from "./assets.js";
import type { Html } from "./html.js";
import { isLanguage, LANGUAGES, type Language, type Translate } from "./i18n.js";
import { choosePlatform, type Platform } from "./platform.js";
import type { InviteTarget } from "./target.js";

/**
 * Only the page's own files may run or style it (no inline script or style), it talks to its own
 * origin only (the name check), its form posts only to itself, and no other site may frame it.
 */
export const INVITE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const PAGE_HEADERS = {
  "Content-Security-Policy": INVITE_CSP,
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  // The page's address holds the token: no store or app site may learn it from a link followed.
  // same-origin, not no-referrer: under no-referrer Chromium sends the page's own form post with
  // `Origin: null`, which the same-origin check (origin.ts) must refuse.
  "Referrer-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
  // Where an invite stands changes, and a page may carry a name: never kept by a cache.
  "Cache-Control": "no-store",
} as const;

/** What every view of one request needs: its language, its platform, its links. */
export interface PageRequest {
  readonly t: Translate;
  readonly lang: Language;
  readonly platform: Platform;
  readonly assets: InviteAssets["names"];
  /** /invite/HOST/TOKEN, as the browser asked for it. */
  readonly path: string;
  /** This page's address with the language and platform given (the switchers' links). */
  href(change?: { lang?: Language; platform?: Platform }): string;
}

/** ?lang= when it names one of ours, else the best of Accept-Language, else English. */
export function chooseLanguage(ctx: Context): Language {
  const asked = ctx.query.lang;
  if (isLanguage(asked)) return asked;
  const accepted = ctx.acceptsLanguages(...LANGUAGES);
  return isLanguage(accepted) ? accepted : "en";
}

export function pageRequest(
  ctx: Context,
  target: InviteTarget | undefined,
  translate: (lang: Language) => Translate,
  assets: InviteAssets["names"],
): PageRequest {
  const lang = chooseLanguage(ctx);
  const platform = choosePlatform(ctx.query.platform, ctx.get("User-Agent") || undefined);
  const path = target ? `/invite/${encodeURIComponent(target.host)}/${target.token}` : ctx.path;
  return {
    t: translate(lang),
    lang,
    platform,
    assets,
    path,
    href: (change = {}) =>
      `${path}?${new URLSearchParams({ lang: change.lang ?? lang, platform: change.platform ?? platform })}`,
  };
}

export function sendPage(ctx: Context, status: number, page: Html): void {
  ctx.set(PAGE_HEADERS);
  // The answer depends on these when no ?lang= or ?platform= says otherwise.
  ctx.vary("Accept-Language");
  ctx.vary("User-Agent");
  ctx.status = status;
  ctx.type = "text/html; charset=utf-8";
  ctx.body = page.value;
}
