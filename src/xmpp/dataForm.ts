// XEP-0004: Data Forms. https://xmpp.org/extensions/xep-0004.html
import type { Element } from "@xmpp/component";

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
