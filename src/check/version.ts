// XEP-0092: Software Version. https://xmpp.org/extensions/xep-0092.html
import { xml } from "@xmpp/component";
import type { AdhocContext } from "../xmpp/adhoc.js";
import { fixFor } from "../xmpp/errors.js";
import type { Check } from "./report.js";

const NS_VERSION = "jabber:iq:version";
// What Prosody answers for a host it does not serve (fixFor: "not a VirtualHost of this Prosody").
const NOT_A_HOST = new Set(["remote-server-not-found", "remote-server-timeout", "host-unknown", "not-allowed"]);

/** Prosody's name and version (mod_version); not knowing it is no failure, a host Prosody lacks is. */
export async function askVersion(ctx: AdhocContext, host: string): Promise<Check> {
  const name = "version";
  try {
    const reply = await ctx.request(
      xml("iq", { type: "get", to: host }, xml("query", { xmlns: NS_VERSION })),
      ctx.timeoutMs,
    );
    const query = reply.getChild("query", NS_VERSION);
    const software = [query?.getChildText("name"), query?.getChildText("version")].filter(Boolean).join(" ");
    return { name, status: "ok", detail: software || "unknown (mod_version answers without a version)" };
  } catch (err) {
    const { name: kind, condition } = err as { name?: string; condition?: string };
    if (kind === "StanzaError" && condition && NOT_A_HOST.has(condition)) {
      return {
        name,
        status: "fail",
        detail: `${host} is not served by this Prosody (${condition})`,
        fix: fixFor(condition, host, ctx.componentJid),
      };
    }
    if (kind === "StanzaError") return { name, status: "note", detail: "unknown (mod_version not loaded)" };
    if (kind === "TimeoutError") {
      return {
        name,
        status: "fail",
        detail: `no answer within ${ctx.timeoutMs} ms`,
        fix: "see Prosody's log: it is connected but does not answer",
      };
    }
    return { name, status: "fail", detail: `the request failed: ${(err as Error).message}`, fix: "see Prosody's log" };
  }
}
