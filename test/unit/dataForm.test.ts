import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { xml } from "@xmpp/component";
import { readFormFields } from "../../src/xmpp/dataForm.js";

const command = (type: string, fields: Array<[string, string | undefined]>) =>
  xml(
    "command",
    { xmlns: "http://jabber.org/protocol/commands" },
    xml(
      "x",
      { xmlns: "jabber:x:data", type },
      ...fields.map(([name, value]) =>
        xml("field", { var: name, type: "text-single" }, ...(value === undefined ? [] : [xml("value", {}, value)])),
      ),
    ),
  );

describe("XEP-0004 form reading", () => {
  it("reads fields by var from a form of type form (Prosody 0.12.3)", () => {
    const fields = readFormFields(
      command("form", [
        ["uri", "xmpp:a?register;preauth=T"],
        ["expire", "2026-12-05T16:19:43Z"],
      ]),
    );
    assert.equal(fields?.get("uri"), "xmpp:a?register;preauth=T");
    assert.equal(fields?.get("expire"), "2026-12-05T16:19:43Z");
  });

  it("reads a form of type result (Prosody 0.12.5 and 13)", () => {
    assert.equal(
      readFormFields(command("result", [["landing-url", "https://a/p?T"]]))?.get("landing-url"),
      "https://a/p?T",
    );
  });

  it("maps a field without a value to an empty string", () => {
    assert.equal(readFormFields(command("result", [["landing-url", undefined]]))?.get("landing-url"), "");
  });

  it("refuses a missing form or one of another type", () => {
    assert.equal(readFormFields(xml("command", {})), undefined);
    assert.equal(readFormFields(command("cancel", [["uri", "x"]])), undefined);
  });
});
