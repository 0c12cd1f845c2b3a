// The QR code library, in a chunk of its own (loaded by linkBlock.ts with import()).
export { toCanvas } from "qrcode";
