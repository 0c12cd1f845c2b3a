import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Context, Next } from "koa";
import { z } from "zod";
import { ConfigError } from "../config.js";

/** The page's script and style (web/invite/, built by scripts/buildInvitePage.ts), beside this file in dist/. */
export const INVITE_ASSETS_DIR = fileURLToPath(new URL("./assets/", import.meta.url));

/** The path they are served under: a token never holds a '.', so no file name is taken for one. */
export const ASSETS_PATH = "/invite/assets/";

const manifestSchema = z.object({ js: z.string().regex(/^[\w-]+\.js$/), css: z.string().regex(/^[\w-]+\.css$/) });

const TYPES: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };

interface AssetFile {
  readonly type: string;
  readonly body: Buffer;
  readonly gzipped: Buffer;
  readonly etag: string;
}

export interface InviteAssets {
  /** The hashed names the pages link to. */
  readonly names: z.infer<typeof manifestSchema>;
  readonly files: ReadonlyMap<string, AssetFile>;
}

/** Reads the built files once; a missing build is a start-up error naming the fix. */
export function loadInviteAssets(dir: string = INVITE_ASSETS_DIR): InviteAssets {
  const manifest = join(dir, "manifest.json");
  if (!existsSync(manifest)) {
    throw new ConfigError(
      `invalid configuration: INVITE_PAGE is on but the page is not built (no ${manifest}): run npm run build, or set INVITE_PAGE=off`,
    );
  }
  const names = manifestSchema.parse(JSON.parse(readFileSync(manifest, "utf8")));
  const files = new Map<string, AssetFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    files.set(name, { type, body, gzipped: gzipSync(body, { level: 9 }), etag });
  }
  return { names, files };
}

/** GET /invite/assets/FILE: each name carries its content's hash, so it is kept for good. */
export function serveInviteAssets(assets: InviteAssets) {
  return async function inviteAssets(ctx: Context, next: Next): Promise<void> {
    const file = assets.files.get(ctx.params?.file ?? "");
    // Not a file of ours: /invite/assets/TOKEN is an invite of a host called "assets".
    if (!file) return next();
    ctx.set({
      "Cache-Control": "public, max-age=31536000, immutable",
      "X-Content-Type-Options": "nosniff",
      "Cross-Origin-Resource-Policy": "same-origin",
    });
    ctx.vary("Accept-Encoding");
    const gzip = ctx.acceptsEncodings("gzip", "identity") === "gzip";
    ctx.status = 200;
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
