import QRCode from "qrcode";
import { trusted, type Html } from "./html.js";

/**
 * The page's own link as a QR code, drawn here as inline SVG (no script, no image request), to
 * carry the invite from a computer to a phone. The SVG is qrcode's own markup: the link is encoded
 * in its modules, never written into it as text.
 */
export async function qrSvg(link: string): Promise<Html> {
  const svg = await QRCode.toString(link, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
  return trusted(svg.replace("<svg ", '<svg class="qr" aria-hidden="true" focusable="false" '));
}
