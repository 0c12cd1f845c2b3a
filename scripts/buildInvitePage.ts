// Builds the invite page's script and style (web/invite/) into dist/invitePage/assets/, each with its
// content's hash in its name, and a manifest.json naming them for src/invitePage/assets.ts; copies
// the page's data (its message catalogues and apps.json) beside the compiled src/invitePage/.
// `npm run build` runs it after tsc.
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = join(ROOT, "web", "invite");
const PAGE_SOURCE = join(ROOT, "src", "invitePage");
const PAGE_OUT = join(ROOT, "dist", "invitePage");
export const INVITE_OUT = join(PAGE_OUT, "assets");

export async function buildInvitePage(): Promise<{ js: string; css: string }> {
  rmSync(INVITE_OUT, { recursive: true, force: true });
  mkdirSync(INVITE_OUT, { recursive: true });
  const result = await build({
    entryPoints: [
      { in: join(SOURCE, "main.ts"), out: "invite" },
      { in: join(SOURCE, "invite.css"), out: "invite" },
    ],
    outdir: INVITE_OUT,
    entryNames: "[name]-[hash]",
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: ["chrome111", "edge111", "firefox111", "safari16.4"],
    metafile: true,
    logLevel: "warning",
  });
  const names = Object.keys(result.metafile.outputs).map((output) => basename(output));
  const js = names.find((name) => name.endsWith(".js"));
  const css = names.find((name) => name.endsWith(".css"));
  if (!js || !css) throw new Error(`esbuild made ${names.join(", ")}: expected a .js and a .css`);
  writeFileSync(join(INVITE_OUT, "manifest.json"), `${JSON.stringify({ js, css })}\n`);
  cpSync(join(PAGE_SOURCE, "messages"), join(PAGE_OUT, "messages"), { recursive: true });
  cpSync(join(PAGE_SOURCE, "apps.json"), join(PAGE_OUT, "apps.json"));
  return { js, css };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildInvitePage();
