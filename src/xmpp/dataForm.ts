// XEP-0004: Data Forms. https://xmpp.org/extensions/xep-0004.html
import { xml, type Element } from "@xmpp/component";
import { AppError } from "../errors.js";

export const NS_DATA = "jabber:x:data";

/**
 * The first value of each field of a form, by `var`. Prosody 0.12.3 sends its completed invite as
 * type "form", 0.12.5 and 13 as "result"; both are read the same. A field with no <value> maps to "".
 */
export function readFormFields(parent: Element): Map<string, string> | undefined {
  const form = parent.getChild("x", NS_DATA);
  if (!form || (form.attrs.type !== "form" && form.attrs.type !== "result")) return undefined;
  const fields = new Map<string, string>();
  for (const field of form.getChildren("field")) {
    const name = field.attrs.var;
    if (name) fields.set(name, field.getChildText("value")?.trim() ?? "");
  }
  return fields;
}

/** Every value of every field, by `var`: one list per field (multi fields carry several). */
function fieldValues(fields: readonly Element[]): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const field of fields) {
    const name = field.attrs.var;
    if (name)
      values.set(
        name,
        field.getChildren("value").map((value) => value.getText()),
      );
  }
  return values;
}

/** The fields of a result form with all their values; undefined when there is no result form. */
export function readFormValues(parent: Element): Map<string, string[]> | undefined {
  const form = parent.getChild("x", NS_DATA);
  if (!form || form.attrs.type !== "result") return undefined;
  return fieldValues(form.getChildren("field"));
}

/**
 * The rows of a result form that reports a table (<reported/> and one <item/> per row), and the
 * fields beside the table (a page's `next`, say).
 */
export function readFormItems(
  parent: Element,
): { items: Array<Map<string, string[]>>; fields: Map<string, string[]> } | undefined {
  const form = parent.getChild("x", NS_DATA);
  if (!form || form.attrs.type !== "result") return undefined;
  return {
    items: form.getChildren("item").map((item) => fieldValues(item.getChildren("field"))),
    fields: fieldValues(form.getChildren("field")),
  };
}

// A character XML 1.0 does not allow (https://www.w3.org/TR/xml/#charsets): a C0 control other
// than tab and line ends, a lone surrogate, U+FFFE or U+FFFF. Prosody closes the stream of whoever
// sends one, so one such character from a client would disconnect the component.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * Every value a client gives reaches the stream through here: a value XML cannot carry is the
 * client's error (400, naming the field), never a stanza.
 */
export function assertXmlText(field: string, value: string): void {
  const found = NOT_XML_CHAR.exec(value);
  if (!found) return;
  const code = (found[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
  throw new AppError("bad_request", `${field}: U+${code} is not a character XML allows`);
}

/** A submitted form: one field per entry, a list giving several values; undefined entries left out. */
export function submitForm(fields: Readonly<Record<string, string | readonly string[] | undefined>>): Element {
  const children = Object.entries(fields)
    .filter((entry): entry is [string, string | readonly string[]] => entry[1] !== undefined)
    .map(([name, value]) => {
      const values = typeof value === "string" ? [value] : value;
      for (const v of values) assertXmlText(name, v);
      return xml("field", { var: name }, ...values.map((v) => xml("value", {}, v)));
    });
  return xml("x", { xmlns: NS_DATA, type: "submit" }, ...children);
}
