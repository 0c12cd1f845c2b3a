import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Context } from "koa";

/** A built file of a page, read once at start and served from memory, plain or gzipped. */
export interface StaticFile {
  readonly name: string;
  readonly type: string;
  readonly body: Buffer;
  readonly gzipped: Buffer;
  readonly etag: string;
}

/** Every file of `dir` whose extension `types` names, by name. */
export function readStaticFiles(dir: string, types: Readonly<Record<string, string>>): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = types[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    files.set(name, { name, type, body, gzipped: gzipSync(body, { level: 9 }), etag });
  }
  return files;
}

/** Sends a file gzipped when the client takes it, with its own ETag per encoding; 304 when fresh. */
export function sendStaticFile(ctx: Context, file: StaticFile): void {
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
}
