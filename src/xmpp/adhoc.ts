// XEP-0050: Ad-Hoc Commands. https://xmpp.org/extensions/xep-0050.html
import { xml, type Element } from "@xmpp/component";
import { AppError } from "../errors.js";
import { ProsodyBadReplyError, ProsodyRefusedError, XmppTimeoutError, fixFor } from "./errors.js";

export const NS_COMMANDS = "http://jabber.org/protocol/commands";

/** Sends one IQ to a host and resolves with the reply; supplied by the component connection. */
export type IqRequest = (stanza: Element, timeoutMs: number) => Promise<Element>;

export interface AdhocContext {
  readonly request: IqRequest;
  readonly componentJid: string;
  readonly timeoutMs: number;
}

/** Runs `execute` of a command node on a host and returns the <command/> of a completed reply. */
export async function executeCommand(ctx: AdhocContext, host: string, node: string): Promise<Element> {
  // @xmpp/component 0.13 fills in `from` but not `to`, so `to` is always set here.
  const stanza = xml("iq", { type: "set", to: host }, xml("command", { xmlns: NS_COMMANDS, node, action: "execute" }));
  let reply: Element;
  try {
    reply = await ctx.request(stanza, ctx.timeoutMs);
  } catch (err) {
    throw toDomainError(err, host, ctx);
  }
  const command = reply.getChild("command", NS_COMMANDS);
  if (!command) throw new ProsodyBadReplyError(host, "no <command/> in the result");
  if (command.attrs.status === "canceled") {
    throw new ProsodyRefusedError(host, "canceled", noteOf(command) ?? fixFor("canceled", host, ctx.componentJid));
  }
  if (command.attrs.status !== "completed") {
    throw new ProsodyBadReplyError(host, `command status "${command.attrs.status ?? "none"}"`);
  }
  return command;
}

function noteOf(command: Element): string | undefined {
  return command.getChildText("note") ?? undefined;
}

function toDomainError(err: unknown, host: string, ctx: AdhocContext): Error {
  if (err instanceof AppError) return err;
  const e = err as { name?: string; condition?: string };
  if (e.name === "TimeoutError") return new XmppTimeoutError(host, ctx.timeoutMs);
  if (e.name === "StanzaError" && e.condition) {
    return new ProsodyRefusedError(host, e.condition, fixFor(e.condition, host, ctx.componentJid));
  }
  return new ProsodyBadReplyError(host, e.name ?? "unknown failure");
}
