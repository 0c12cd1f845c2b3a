import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Context } from "koa";
import { ConfigError } from "../config.js";
import { readStaticFiles, sendStaticFile, type StaticFile } from "./staticFiles.js";

/**
 * The admin page (web/admin/, bundled by `npm run build` into dist/http/admin/, beside this file):
 * static files only, read once at start and served from memory. Nothing on it comes from another
 * origin, so it works on a server without internet.
 */
export const ADMIN_PAGE_DIR = fileURLToPath(new URL("./admin/", import.meta.url));

/**
 * Only the page's own files may run or style it, it may talk to its own origin only (the API), it
 * posts no form anywhere (the key never lands in a URL) and no other site may frame it.
 */
export const ADMIN_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "Content-Security-Policy": ADMIN_CSP,
  "X-Content-Type-Options": "nosniff",
  // For browsers without frame-ancestors.
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  // No Cross-Origin-Opener-Policy: it makes Chromium swap processes on the first load (measured at
  // ~300 ms on loopback, doubling it, scripts/adminPageFigures.ts), and the page opens no window
  // and keeps nothing a window handle could reach.
  "Cross-Origin-Resource-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
} as const;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

export type AdminPageFiles = ReadonlyMap<string, StaticFile>;

/** Every file but index.html has its content's hash in its name: it never changes. */
const immutable = (file: StaticFile) => file.name !== "index.html";

/** Reads the page's files; a missing build is a start-up error naming the fix. */
export function loadAdminPage(dir: string = ADMIN_PAGE_DIR): AdminPageFiles {
  if (!existsSync(join(dir, "index.html"))) {
    throw new ConfigError(
      `invalid configuration: ADMIN_PAGE is on but the page is not built (no ${join(dir, "index.html")}): run npm run build, or set ADMIN_PAGE=off`,
    );
  }
  return readStaticFiles(dir, TYPES);
}

/** GET /admin/ and /admin/FILE; /admin alone goes to /admin/, where the page's relative links work. */
export function adminPage(files: AdminPageFiles) {
  return function adminPage(ctx: Context): void {
    if (ctx.path === "/admin") {
      ctx.status = 308;
      ctx.redirect(`/admin/${ctx.querystring ? `?${ctx.querystring}` : ""}`);
      return;
    }
    const name = ctx.path === "/admin/" ? "index.html" : ctx.path.slice("/admin/".length);
    const file = files.get(name);
    if (!file) ctx.throw(404);
    ctx.set(SECURITY_HEADERS);
    // index.html is checked each time (a new version names new files); the others are kept for good.
    ctx.set("Cache-Control", immutable(file) ? "public, max-age=31536000, immutable" : "no-cache");
    sendStaticFile(ctx, file);
  };
}
