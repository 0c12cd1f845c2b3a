// Builds the admin page (web/admin/) into dist/http/admin/, beside src/http/adminPage.ts's output,
// so that the files ship in the package: `npm run build` runs it after tsc. Every file but
// index.html gets its content's hash in its name, so that browsers may keep it for good.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = join(ROOT, "web", "admin");
export const ADMIN_OUT = join(ROOT, "dist", "http", "admin");

export async function buildAdminPage(): Promise<Record<string, string>> {
  rmSync(ADMIN_OUT, { recursive: true, force: true });
  mkdirSync(ADMIN_OUT, { recursive: true });
  const result = await build({
    entryPoints: [
      { in: join(SOURCE, "main.ts"), out: "admin" },
      { in: join(SOURCE, "admin.css"), out: "admin" },
    ],
    outdir: ADMIN_OUT,
    entryNames: "[name]-[hash]",
    chunkNames: "[name]-[hash]",
    // Code loaded later (the QR code library) in chunks of its own.
    splitting: true,
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    // Browsers with <dialog>, :focus-visible and CSS nesting-free modern syntax: 2023 onwards.
    target: ["chrome111", "edge111", "firefox111", "safari16.4"],
    metafile: true,
    logLevel: "warning",
  });
  // Each name the source index.html uses, and the hashed one it becomes.
  const names: Record<string, string> = {};
  for (const output of Object.keys(result.metafile.outputs)) {
    // Only the entry points; chunks (qr-HASH.js) are named by the code that imports them.
    const name = basename(output);
    if (name.startsWith("admin-")) names[name.replace(/-[A-Z0-9]+(\.\w+)$/, "$1")] = name;
  }
  const icon = readFileSync(join(SOURCE, "icon.svg"));
  names["icon.svg"] = `icon-${createHash("sha256").update(icon).digest("hex").slice(0, 8).toUpperCase()}.svg`;
  copyFileSync(join(SOURCE, "icon.svg"), join(ADMIN_OUT, names["icon.svg"]));

  let html = readFileSync(join(SOURCE, "index.html"), "utf8");
  for (const [plain, hashed] of Object.entries(names)) {
    const reference = new RegExp(`(href|src)="${plain.replace(".", "\\.")}"`);
    if (!reference.test(html)) throw new Error(`web/admin/index.html does not reference ${plain}`);
    html = html.replace(reference, `$1="${hashed}"`);
  }
  // The chunks the entry imports up front, fetched beside it rather than after it.
  const entry = Object.entries(result.metafile.outputs).find(([output]) => basename(output) === names["admin.js"]);
  const preloads = (entry?.[1].imports ?? [])
    .filter((i) => i.kind === "import-statement")
    .map((i) => `<link rel="modulepreload" href="${basename(i.path)}" />`);
  html = html.replace(/(\s*)(<script type="module")/, `$1${preloads.map((p) => `${p}$1`).join("")}$2`);
  writeFileSync(join(ADMIN_OUT, "index.html"), html);
  return names;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildAdminPage();
