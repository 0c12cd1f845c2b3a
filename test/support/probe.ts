import { component, xml } from "@xmpp/component";
import type { Component } from "./stack.js";

const NS_COMMANDS = "http://jabber.org/protocol/commands";
const NS_DATA = "jabber:x:data";

export interface ProbeResult {
  /** The command's status when Prosody answered with a result. */
  readonly status?: string;
  /** The values of the result form's fields, by var. */
  readonly fields: Map<string, string[]>;
  /** The stanza error's condition and text when Prosody refused. */
  readonly condition?: string;
  readonly text?: string;
}

/**
 * Runs one ad-hoc command (XEP-0050) at `host` as `probe`, a component configured like the
 * service's own, with `fields` as a submitted form (none: no form): what a holder of the
 * component's secret could send without the service in between. Always disconnects.
 */
export async function probeCommand(
  componentPort: number,
  probe: Component,
  host: string,
  node: string,
  fields?: Record<string, string | readonly string[]>,
): Promise<ProbeResult> {
  const entity = component({
    service: `xmpp://127.0.0.1:${componentPort}`,
    domain: probe.domain,
    password: probe.secret,
  });
  entity.on("error", () => undefined);
  await entity.start();
  try {
    const form =
      fields &&
      xml(
        "x",
        { xmlns: NS_DATA, type: "submit" },
        ...Object.entries(fields).map(([name, value]) =>
          xml("field", { var: name }, ...(typeof value === "string" ? [value] : value).map((v) => xml("value", {}, v))),
        ),
      );
    const command = xml("command", { xmlns: NS_COMMANDS, node, action: "execute" }, ...(form ? [form] : []));
    const reply = await entity.iqCaller
      .request(xml("iq", { type: "set", to: host }, command), 10_000)
      .catch((err: { condition?: string; text?: string }) => err);
    if (!("getChild" in reply)) return { condition: reply.condition, text: reply.text, fields: new Map() };
    const answer = reply.getChild("command", NS_COMMANDS);
    const values = new Map<string, string[]>();
    for (const field of answer?.getChild("x", NS_DATA)?.getChildren("field") ?? []) {
      values.set(
        String(field.attrs.var),
        field.getChildren("value").map((v) => v.getText()),
      );
    }
    return { status: answer?.attrs.status, fields: values };
  } finally {
    entity.reconnect.stop();
    await entity.stop().catch(() => undefined);
  }
}
