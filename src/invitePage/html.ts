import escapeHtml from "escape-html";

/** Markup built by `html` (or trusted by `trusted`): interpolated into `html` as it is. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type Interpolation = Html | string | number | false | null | undefined | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === false || value === null || value === undefined) return "";
  // Escapes &, <, >, " and ': safe in text and in quoted attribute values.
  return escapeHtml(String(value));
}

/**
 * The page's only way to write markup: every value is escaped unless it is itself `Html`, so an
 * inviter or a group's name is always text. Arrays are joined; false, null and undefined write nothing.
 */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? "");
  });
  return new Html(out);
}

/** Markup made by this service itself (the QR code's SVG), never from a request or Prosody. */
export const trusted = (markup: string): Html => new Html(markup);
