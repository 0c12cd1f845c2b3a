import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Context, Next } from "koa";
import { z } from "zod";
import { ConfigError } from "../config.js";
import { readStaticFiles, sendStaticFile, type StaticFile } from "../http/staticFiles.js";

/** The page's script and style (web/invite/, built by scripts/buildInvitePage.ts), beside this file in dist/. */
export const INVITE_ASSETS_DIR = fileURLToPath(new URL("./assets/", import.meta.url));

/** The path they are served under: a token never holds a '.', so no file name is taken for one. */
export const ASSETS_PATH = "/invite/assets/";

const manifestSchema = z.object({ js: z.string().regex(/^[\w-]+\.js$/), css: z.string().regex(/^[\w-]+\.css$/) });

const TYPES: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };

export interface InviteAssets {
  /** The hashed names the pages link to. */
  readonly names: z.infer<typeof manifestSchema>;
  readonly files: ReadonlyMap<string, StaticFile>;
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
  return { names, files: readStaticFiles(dir, TYPES) };
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
    sendStaticFile(ctx, file);
  };
}
