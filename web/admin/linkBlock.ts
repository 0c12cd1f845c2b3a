import { h } from "./dom.js";

let blocks = 0;
const QR_SIZE = 232;

// The QR code library is half the page's code: loaded apart, after the sign-in page is shown.
const qrcode = () => import("./qr.js");

/** Starts loading the QR code library, so that the first invite's code shows at once. */
export const preloadQrCode = (): void => void qrcode().catch(() => undefined);

/**
 * The link's QR code, black on white in both colour schemes (what QR readers expect). Its drawn
 * size from the start, so that nothing moves when the library has drawn it; should the library
 * not load, `holder` says so instead.
 */
export function qrCode(link: string, label: string, holder: HTMLElement): HTMLCanvasElement {
  const size = String(QR_SIZE);
  const canvas = h("canvas", { role: "img", "aria-label": label, width: size, height: size });
  qrcode()
    .then(({ toCanvas }) => toCanvas(canvas, link, { width: QR_SIZE, margin: 4, errorCorrectionLevel: "M" }))
    .catch(() => holder.replaceChildren(h("p", { class: "hint" }, "The QR code could not be drawn: send the link.")));
  return canvas;
}

/** An invite link to hand over: the link in a field, a copy button, and its QR code, drawn here. */
export function linkBlock(link: string): HTMLElement {
  const id = `link-${(blocks += 1)}`;
  const input = h("input", { id, readonly: true, value: link, spellcheck: "false" });
  const status = h("p", { class: "hint", role: "status" });
  const copy = h("button", { type: "button" }, "Copy link");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(link);
      status.textContent = "Link copied.";
    } catch {
      input.select();
      status.textContent = "Copying is not allowed here: the link is selected, copy it with your keyboard.";
    }
  });
  const figure = h("figure", { class: "qr" }, h("figcaption", {}, "Or let them scan it with a phone."));
  figure.prepend(qrCode(link, "QR code of the invite link", figure));
  return h(
    "div",
    { class: "link-block" },
    h("label", { for: id }, "Link to send"),
    h("div", { class: "link-row" }, input, copy),
    status,
    figure,
  );
}
