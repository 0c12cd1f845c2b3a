import jsqr from "jsqr";
import { PNG } from "pngjs";

// jsqr is CommonJS with an ES default export: from ESM, the function is the module's `default`.
const jsQR = jsqr.default;

/** The text of the QR code in a PNG (a screenshot of what the page shows), or undefined. */
export function readQrCode(png: Buffer): string | undefined {
  const image = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data;
}
