import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Context } from "koa";
import { ConfigError } from "../config.js";

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

interface StaticFile {
  readonly type: string;
  readonly body: Buffer;
  readonly gzipped: Buffer;
  readonly etag: string;
  /** Every file but index.html has its content's hash in its name: it never changes. */
  readonly immutable: boolean;
}

export type AdminPageFiles = ReadonlyMap<string, StaticFile>;

/** Reads the page's files; a missing build is a start-up error naming the fix. */
export function loadAdminPage(dir: string = ADMIN_PAGE_DIR): AdminPageFiles {
  if (!existsSync(join(dir, "index.html"))) {
    throw new ConfigError(
      `invalid configuration: ADMIN_PAGE is on but the page is not built (no ${join(dir, "index.html")}): run npm run build, or set ADMIN_PAGE=off`,
    );
  }
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    files.set(name, { type, body, gzipped: gzipSync(body, { level: 9 }), etag, immutable: name !== "index.html" });
  }
  return files;
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
    ctx.set("Cache-Control", file.immutable ? "public, max-age=31536000, immutable" : "no-cache");
    ctx.vary("Accept-Encoding");
    const gzip = ctx.acceptsEncodings("gzip", "identity") === "gzip";
    ctx.status = 200;
    // Each encoding is its own representation, with its own tag.
    ctx.etag = gzip ? `${file.etag.slice(0, -1)}-gz"` : file.etag;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.type = file.type;
    if (gzip) ctx.set("Content-Encoding", "gzip");
    ctx.body = gzip ? file.gzipped : file.body;
  };
}
