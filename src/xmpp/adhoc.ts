// XEP-0050: Ad-Hoc Commands. https://xmpp.org/extensions/xep-0050.html
// XEP-0030: Service Discovery, for the list of commands. https://xmpp.org/extensions/xep-0030.html
import { xml, type Element } from "@xmpp/component";
import { AppError } from "../errors.js";
import { ProsodyBadReplyError, ProsodyRefusedError, XmppTimeoutError, XmppUnavailableError, fixFor } from "./errors.js";

export const NS_COMMANDS = "http://jabber.org/protocol/commands";
const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";

/** Sends one IQ to a host and resolves with the reply; supplied by the component connection. */
export type IqRequest = (stanza: Element, timeoutMs: number) => Promise<Element>;

export interface AdhocContext {
  readonly request: IqRequest;
  readonly componentJid: string;
  readonly timeoutMs: number;
}

type Status = "completed" | "executing";

async function send(ctx: AdhocContext, host: string, stanza: Element): Promise<Element> {
  try {
    return await ctx.request(stanza, ctx.timeoutMs);
  } catch (err) {
    throw toDomainError(err, host, ctx);
  }
}

async function commandExchange(ctx: AdhocContext, host: string, command: Element, expect: Status): Promise<Element> {
  // @xmpp/component 0.13 fills in `from` but not `to`, so `to` is always set here.
  const reply = await send(ctx, host, xml("iq", { type: "set", to: host }, command));
  const answer = reply.getChild("command", NS_COMMANDS);
  if (!answer) throw new ProsodyBadReplyError(host, "no <command/> in the result");
  if (answer.attrs.status === "canceled") {
    const note = answer.getChildText("note") ?? fixFor("canceled", host, ctx.componentJid);
    throw new ProsodyRefusedError(host, "canceled", note);
  }
  if (answer.attrs.status !== expect) {
    throw new ProsodyBadReplyError(host, `command status "${answer.attrs.status ?? "none"}"`);
  }
  return answer;
}

/**
 * Runs `execute` of a command node on a host; returns the <command/> of the reply. With `form`,
 * the filled-in form goes with the execute itself (commands of mod_invites_manage complete in one step).
 */
export function executeCommand(
  ctx: AdhocContext,
  host: string,
  node: string,
  { expect = "completed", form }: { expect?: Status; form?: Element } = {},
): Promise<Element> {
  const command = xml("command", { xmlns: NS_COMMANDS, node, action: "execute" }, ...(form ? [form] : []));
  return commandExchange(ctx, host, command, expect);
}

/** The command nodes a host offers this component (disco#items of the commands node). */
export async function listCommands(ctx: AdhocContext, host: string): Promise<string[]> {
  const stanza = xml("iq", { type: "get", to: host }, xml("query", { xmlns: NS_DISCO_ITEMS, node: NS_COMMANDS }));
  const reply = await send(ctx, host, stanza);
  const query = reply.getChild("query", NS_DISCO_ITEMS);
  return (query?.getChildren("item") ?? []).map((item) => item.attrs.node ?? "").filter(Boolean);
}

/** A host's command nodes, as listCommands gives them; asked again after COMMANDS_TTL_MS. */
export type HostCommands = (host: string) => Promise<readonly string[]>;

/** How long a host's list is trusted: a module loaded or unloaded there shows within this. */
export const COMMANDS_TTL_MS = 30_000;

/**
 * listCommands once per host per COMMANDS_TTL_MS: which modules a host runs (mod_invites_manage,
 * Prosody 13's password reset) is asked of it once, not before every invite.
 */
export function cachedCommands(ctx: AdhocContext, now: () => number = Date.now): HostCommands {
  const known = new Map<string, { commands: readonly string[]; at: number }>();
  return async (host) => {
    const cached = known.get(host);
    if (cached && now() - cached.at < COMMANDS_TTL_MS) return cached.commands;
    const commands = await listCommands(ctx, host);
    known.set(host, { commands, at: now() });
    return commands;
  };
}

function toDomainError(err: unknown, host: string, ctx: AdhocContext): Error {
  if (err instanceof AppError) return err;
  const e = err as { name?: string; condition?: string; text?: string };
  if (e.name === "TimeoutError") return new XmppTimeoutError(host, ctx.timeoutMs);
  if (e.name === "StanzaError" && e.condition) {
    return new ProsodyRefusedError(host, e.condition, fixFor(e.condition, host, ctx.componentJid), e.text ?? "");
  }
  // Anything else was thrown by the transport (a socket closing under a write, say).
  return new XmppUnavailableError("connection to Prosody failed during the call");
}
