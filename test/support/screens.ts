import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import pixelmatch from "pixelmatch";
import { PNG } from "pngjs";

/**
 * Screenshots compared with committed reference PNGs, by pixelmatch. A pixel differs when its colour
 * is further than PIXEL_THRESHOLD from the reference's (OKLab distance, 0 to 1; antialiased edges are
 * recognised and not counted); a screen differs when more than MAX_DIFFERING of its pixels do. The
 * same Chromium and fonts draw the same pixels, so the allowance is for antialiasing noise only: one
 * line of text moved or rewrapped is thousands of pixels, over it at once.
 */
export const PIXEL_THRESHOLD = 0.1;
export const MAX_DIFFERING = 0.001;

/** UPDATE_SCREENS=1 writes the references anew where they are missing or differ, and passes. */
export const UPDATING = process.env.UPDATE_SCREENS === "1";

let failures: string | undefined;
/** One folder a run, made when the first screen differs: the actual images and the diffs. */
const failureDir = () => (failures ??= mkdtempSync(join(tmpdir(), "invites-api-screens-")));

/**
 * Compares `actual` with `reference` (a PNG path): undefined when they match, else why not, naming
 * the actual image and the diff it wrote into a temp folder.
 */
export function compareScreen(reference: string, actual: Buffer): string | undefined {
  const name = basename(reference, ".png");
  const problem = mismatch(reference, actual);
  if (problem === undefined) return undefined;
  if (UPDATING) {
    mkdirSync(dirname(reference), { recursive: true });
    writeFileSync(reference, actual);
    return undefined;
  }
  const files = [`actual: ${keep(name, "actual", actual)}`];
  if (problem.diff) files.push(`diff: ${keep(name, "diff", problem.diff)}`);
  return `${name}: ${problem.why}; ${files.join(", ")}`;
}

function mismatch(reference: string, actual: Buffer): { why: string; diff?: Buffer } | undefined {
  if (!existsSync(reference)) return { why: `no reference at ${reference} (UPDATE_SCREENS=1 writes it)` };
  const want = PNG.sync.read(readFileSync(reference));
  const got = PNG.sync.read(actual);
  // Another size is a change of layout whatever the pixels; the diff is of the part both have.
  const resized = want.width !== got.width || want.height !== got.height;
  const [width, height] = [Math.min(want.width, got.width), Math.min(want.height, got.height)];
  const diff = new PNG({ width, height });
  const count = pixelmatch(crop(want, width, height), crop(got, width, height), diff.data, width, height, {
    threshold: PIXEL_THRESHOLD,
  });
  const ratio = count / (width * height);
  if (!resized && ratio <= MAX_DIFFERING) return undefined;
  const share = `${(ratio * 100).toFixed(2)} % where at most ${MAX_DIFFERING * 100} % may`;
  const pixels = `${count} pixels differ from the reference (${share})`;
  const why = resized
    ? `${got.width}×${got.height} px where the reference is ${want.width}×${want.height}; in the top left ${width}×${height}, ${pixels}`
    : pixels;
  return { why, diff: PNG.sync.write(diff) };
}

/** The image's pixels in its top left width × height, row after row. */
function crop(image: PNG, width: number, height: number): Uint8Array {
  if (image.width === width && image.height === height) return image.data;
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    out.set(image.data.subarray(y * image.width * 4, (y * image.width + width) * 4), y * width * 4);
  }
  return out;
}

function keep(name: string, what: string, png: Buffer): string {
  const path = join(failureDir(), `${name}.${what}.png`);
  writeFileSync(path, png);
  return path;
}
