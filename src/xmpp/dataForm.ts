// XEP-0004: Data Forms. https://xmpp.org/extensions/xep-0004.html
import { xml, type Element } from "@xmpp/component";

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

/** The rows of a result form that reports a table (<reported/> and one <item/> per row). */
export function readFormItems(parent: Element): Array<Map<string, string[]>> | undefined {
  const form = parent.getChild("x", NS_DATA);
  if (!form || form.attrs.type !== "result") return undefined;
  return form.getChildren("item").map((item) => fieldValues(item.getChildren("field")));
}

/** A submitted form: one field per entry, a list giving several values; undefined entries left out. */
export function submitForm(fields: Readonly<Record<string, string | readonly string[] | undefined>>): Element {
  const children = Object.entries(fields)
    .filter((entry): entry is [string, string | readonly string[]] => entry[1] !== undefined)
    .map(([name, value]) =>
      xml("field", { var: name }, ...(typeof value === "string" ? [value] : value).map((v) => xml("value", {}, v))),
    );
  return xml("x", { xmlns: NS_DATA, type: "submit" }, ...children);
}
