/**
 * A small XMPP client for the end-to-end tests, talking to a test Prosody's c2s port (plain TCP on
 * loopback: the test Prosodys have TLS disabled). It implements:
 * - RFC 6120 (XMPP Core): streams, SASL, resource binding, stanza errors. https://www.rfc-editor.org/rfc/rfc6120
 * - XEP-0077 (In-Band Registration). https://xmpp.org/extensions/xep-0077.html
 * - XEP-0401 (Easy User Onboarding) / XEP-0379 (Pre-Authenticated Roster Subscription): the `preauth`
 *   token of an invite, sent before registering. https://xmpp.org/extensions/xep-0401.html
 * - XEP-0050 (Ad-Hoc Commands). https://xmpp.org/extensions/xep-0050.html
 * - XEP-0030 (Service Discovery), for the list of commands. https://xmpp.org/extensions/xep-0030.html
 * - RFC 6121 (XMPP IM): the roster. https://www.rfc-editor.org/rfc/rfc6121
 *
 * Logging in uses @xmpp/client 0.13 (SCRAM-SHA-1); registration is a raw stream, because
 * @xmpp/client always authenticates first. Everything times out (10 s by default) and closes its
 * socket on every path; no reconnect timer is ever left behind.
 */
import { recordTokensIn } from "./handedOut.js";
import type { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { connect, type Socket } from "node:net";

const NS_STREAM = "http://etherx.jabber.org/streams";
const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const NS_PARS = "urn:xmpp:pars:0";
const NS_REGISTER = "jabber:iq:register";
const NS_ROSTER = "jabber:iq:roster";
const NS_COMMANDS = "http://jabber.org/protocol/commands";
const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const NS_DATA = "jabber:x:data";

const DEFAULT_TIMEOUT_MS = 10_000;

// @xmpp/client 0.13 ships no type declarations (and is CommonJS): this types the part used here.
interface XmlElement {
  name: string;
  attrs: Record<string, string | undefined>;
  is(name: string, xmlns?: string): boolean;
  getChild(name: string, xmlns?: string): XmlElement | undefined;
  getChildren(name: string, xmlns?: string): XmlElement[];
  getChildElements(): XmlElement[];
  getChildText(name: string, xmlns?: string): string | null;
  text(): string;
  toString(): string;
}

type XmlChild = XmlElement | string | readonly XmlChild[] | undefined;

interface XmlParser extends EventEmitter {
  write(data: string): void;
}

interface XmlFactory {
  (name: string, attrs?: Record<string, string | undefined> | null, ...children: XmlChild[]): XmlElement;
  Parser: new () => XmlParser;
}

interface XmppClientEntity extends EventEmitter {
  status: string;
  jid: { toString(): string; bare(): { toString(): string } } | null;
  socket: Socket | null;
  reconnect: { stop(): void };
  iqCaller: { request(stanza: XmlElement, timeoutMs?: number): Promise<XmlElement> };
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
}

interface XmppClientModule {
  client(options: {
    service: string;
    domain: string;
    username: string;
    password: string;
    resource?: string;
  }): XmppClientEntity;
  xml: XmlFactory;
}

const { client, xml } = createRequire(import.meta.url)("@xmpp/client") as XmppClientModule;

/** An XMPP stanza error (RFC 6120 §8.3) in a reply: `condition` is e.g. "forbidden", "item-not-found". */
export class XmppStanzaError extends Error {
  constructor(
    readonly condition: string,
    readonly text: string | undefined,
    /** The error's type attribute: "cancel", "auth", "modify", "wait" or "continue". */
    readonly type: string | undefined,
    what: string,
  ) {
    super(`${what}: ${condition}${text ? ` (${text})` : ""}`);
    this.name = "XmppStanzaError";
  }
}

/** Registration refused: by the preauth step (an invalid or used token) or by the register step. */
export class RegistrationError extends XmppStanzaError {
  constructor(
    condition: string,
    text: string | undefined,
    type: string | undefined,
    /** Which request was refused. */
    readonly step: "preauth" | "register",
  ) {
    super(condition, text, type, `registration refused at ${step}`);
    this.name = "RegistrationError";
  }
}

/** Reads the <error/> of an error reply (a stanza without one gives "undefined-condition"). */
function stanzaErrorParts(stanza: XmlElement): { condition: string; text: string | undefined; type?: string } {
  const error = stanza.getChild("error");
  const condition = error?.getChildElements().find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== "text");
  return {
    condition: condition?.name ?? "undefined-condition",
    text: error?.getChildText("text", NS_STANZAS) || undefined,
    type: error?.attrs.type,
  };
}

function timeoutError(what: string, timeoutMs: number): Error {
  return new Error(`${what} timed out after ${timeoutMs} ms`);
}

/** Races a promise against a timer, which is always cleared; a late rejection is swallowed. */
async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(timeoutError(what, timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

let nextId = 0;
const newId = (prefix: string) => `${prefix}-${process.pid}-${++nextId}`;

/**
 * A raw client stream on one socket: elements received are queued, `next` takes the first that
 * matches. A stream error, the server closing, a socket error or the deadline fail every later wait
 * (after what was already received).
 */
function rawStream(port: number, timeoutMs: number) {
  const socket = connect({ host: "127.0.0.1", port });
  const parser = new xml.Parser();
  const received: XmlElement[] = [];
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const fail = (err: Error) => {
    failure ??= err;
    notify();
  };

  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => parser.write(chunk));
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("the server closed the connection")));
  parser.on("element", (element: XmlElement) => {
    if (element.is("error", NS_STREAM)) {
      const condition = element.getChildElements()[0]?.name ?? "unknown";
      fail(new Error(`stream error: ${condition} ${element.getChildText("text") ?? ""}`.trim()));
    } else {
      received.push(element);
      notify();
    }
  });
  parser.on("end", () => fail(new Error("the server closed the stream")));
  parser.on("error", (err: Error) => fail(new Error(`unparsable XML from the server: ${err.message}`)));
  const timer = setTimeout(() => fail(timeoutError("the XMPP exchange", timeoutMs)), timeoutMs);

  return {
    write(data: string): void {
      socket.write(data);
    },
    async next(matches: (element: XmlElement) => boolean, what: string): Promise<XmlElement> {
      for (;;) {
        const index = received.findIndex(matches);
        if (index >= 0) return received.splice(index, 1)[0]!;
        if (failure) throw new Error(`while waiting for ${what}: ${failure.message}`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    /** Closes the stream politely (unless it failed), then the socket for sure (within a second). */
    async close(): Promise<void> {
      clearTimeout(timer);
      if (!socket.destroyed && !failure) {
        const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
        socket.end("</stream:stream>");
        let grace: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise<void>((resolve) => (grace = setTimeout(resolve, 1_000)))]);
        clearTimeout(grace);
      }
      socket.destroy();
    },
  };
}

/**
 * Registers an account with an invite token, in band, as a client app does with an invite link:
 * opens a c2s stream (plain TCP to 127.0.0.1:port, unauthenticated), sends the token as
 * `<preauth xmlns='urn:xmpp:pars:0'/>` (XEP-0401), then the XEP-0077 `jabber:iq:register` set with
 * username and password. A refusal of either step throws RegistrationError (its `step` says which);
 * a stream failure or the timeout throws a plain Error. The socket is always closed.
 */
export async function registerWithInvite(opts: {
  port: number;
  domain: string;
  token: string;
  username: string;
  password: string;
  timeoutMs?: number;
}): Promise<void> {
  const stream = rawStream(opts.port, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    // Values are escaped by the element builder (attributes and text alike).
    const header = xml("stream:stream", {
      xmlns: "jabber:client",
      "xmlns:stream": NS_STREAM,
      to: opts.domain,
      version: "1.0",
    }).toString();
    stream.write(`<?xml version='1.0'?>${header.slice(0, -2)}>`);
    await stream.next((el) => el.is("features", NS_STREAM), "the stream features");

    const exchange = async (step: "preauth" | "register", payload: XmlElement): Promise<void> => {
      const id = newId(step);
      stream.write(xml("iq", { type: "set", id }, payload).toString());
      const reply = await stream.next((el) => el.name === "iq" && el.attrs.id === id, `the ${step} reply`);
      if (reply.attrs.type === "error") {
        const { condition, text, type } = stanzaErrorParts(reply);
        throw new RegistrationError(condition, text, type, step);
      }
      if (reply.attrs.type !== "result") throw new Error(`${step}: unexpected reply ${reply.toString()}`);
    };
    await exchange("preauth", xml("preauth", { xmlns: NS_PARS, token: opts.token }));
    await exchange(
      "register",
      xml("query", { xmlns: NS_REGISTER }, xml("username", {}, opts.username), xml("password", {}, opts.password)),
    );
  } finally {
    await stream.close();
  }
}

/** One item of a roster (RFC 6121 §2.1.2); `name` and `ask` only when the server gives them. */
export interface RosterItem {
  jid: string;
  /** "none", "to", "from" or "both" ("none" when the attribute is absent). */
  subscription: string;
  groups: string[];
  name?: string;
  /** "subscribe" while an outbound subscription request is pending. */
  ask?: string;
}

/** The outcome of an ad-hoc command (XEP-0050). */
export interface CommandResult {
  /** "completed", "executing" or "canceled". */
  status: string;
  /** The fields of the form in the reply (a result or a further form), by var; empty without one. */
  fields: Map<string, string[]>;
  note?: string;
  /** The note's type: "info" (the default), "warn" or "error". */
  noteType?: string;
}

/** A logged-in client session. */
export interface XmppSession {
  /** The full JID bound by the server, e.g. "alice@example.test/test". */
  readonly jid: string;
  /** The bare JID, e.g. "alice@example.test". */
  readonly bareJid: string;
  /** Fetches the roster (RFC 6121 §2.1.3). */
  roster(): Promise<RosterItem[]>;
  /** The node names of the ad-hoc commands `to` lists for this user (XEP-0050 §2.2 via XEP-0030 disco#items). */
  commands(to: string): Promise<string[]>;
  /**
   * Executes a command (XEP-0050 `execute`); with `fields`, a filled-in jabber:x:data form of type
   * "submit" goes with the execute itself (one step, as Prosody's simple forms take it). An error
   * reply rejects with XmppStanzaError (`condition`); a "completed" reply with an error note resolves.
   */
  execute(to: string, node: string, fields?: Record<string, string | string[]>): Promise<CommandResult>;
  /** Ends the stream and the connection (idempotent); no socket or reconnect timer stays behind. */
  close(): Promise<void>;
}

/**
 * Stops a client entity for good: no reconnection, the socket destroyed. `polite` first closes the
 * stream and waits for the server's reply (a logged-in session); a failed login is cut off at once.
 */
async function shutdown(entity: XmppClientEntity, polite: boolean): Promise<void> {
  entity.reconnect.stop();
  const socket = entity.socket;
  if (polite && socket) {
    try {
      // stop() waits up to 2 s for the server's </stream:stream>, then up to 2 s for the socket to close.
      await withTimeout(entity.stop(), 5_000, "closing the XMPP session");
    } catch {
      // The socket is destroyed below all the same.
    }
  }
  socket?.destroy();
  entity.socket?.destroy();
}

/**
 * Logs in over plain TCP to 127.0.0.1:port with @xmpp/client (SASL SCRAM-SHA-1, then resource
 * binding) and resolves with the session. A refused login rejects with @xmpp/client's SASLError
 * (`condition`, e.g. "not-authorized"); a timeout with an Error. On failure the connection is closed.
 */
export async function login(opts: {
  port: number;
  domain: string;
  username: string;
  password: string;
  resource?: string;
  timeoutMs?: number;
}): Promise<XmppSession> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const entity = client({
    service: `xmpp://127.0.0.1:${opts.port}`,
    domain: opts.domain,
    username: opts.username,
    password: opts.password,
    resource: opts.resource ?? "test",
  });
  // A test session never reconnects: a lost connection stays lost (and leaves no timer behind).
  entity.reconnect.stop();
  // "error" events without a listener would throw; start() and the requests report their own errors.
  entity.on("error", () => undefined);
  try {
    await withTimeout(entity.start(), timeoutMs, `logging in as ${opts.username}@${opts.domain}`);
  } catch (err) {
    await shutdown(entity, false);
    // @xmpp/client's own 2 s wait for the server's stream header ends in a bare TimeoutError.
    if ((err as Error).name === "TimeoutError") {
      throw new Error(`logging in as ${opts.username}@${opts.domain}: the server did not open the stream in time`);
    }
    throw err;
  }
  const jid = entity.jid?.toString() ?? `${opts.username}@${opts.domain}`;
  let closed = false;

  async function request(stanza: XmlElement, what: string): Promise<XmlElement> {
    if (closed) throw new Error(`${what}: the session is closed`);
    try {
      return await entity.iqCaller.request(stanza, timeoutMs);
    } catch (err) {
      const e = err as { name?: string; condition?: string; text?: string; type?: string };
      if (e.name === "TimeoutError") throw timeoutError(what, timeoutMs);
      if (e.name === "StanzaError" && e.condition) {
        throw new XmppStanzaError(e.condition, e.text || undefined, e.type, what);
      }
      throw err;
    }
  }

  return {
    jid,
    bareJid: jid.split("/")[0]!,

    async roster() {
      const reply = await request(
        xml("iq", { type: "get", id: newId("roster") }, xml("query", { xmlns: NS_ROSTER })),
        "roster get",
      );
      const items = reply.getChild("query", NS_ROSTER)?.getChildren("item") ?? [];
      return items.map((item) => {
        const entry: RosterItem = {
          jid: item.attrs.jid ?? "",
          subscription: item.attrs.subscription ?? "none",
          groups: item.getChildren("group").map((g) => g.text()),
        };
        if (item.attrs.name !== undefined) entry.name = item.attrs.name;
        if (item.attrs.ask !== undefined) entry.ask = item.attrs.ask;
        return entry;
      });
    },

    async commands(to) {
      const reply = await request(
        xml("iq", { type: "get", to, id: newId("disco") }, xml("query", { xmlns: NS_DISCO_ITEMS, node: NS_COMMANDS })),
        `listing the commands of ${to}`,
      );
      const items = reply.getChild("query", NS_DISCO_ITEMS)?.getChildren("item") ?? [];
      return items.map((item) => item.attrs.node).filter((node): node is string => node !== undefined);
    },

    async execute(to, node, fields) {
      const form =
        fields &&
        xml(
          "x",
          { xmlns: NS_DATA, type: "submit" },
          Object.entries(fields).map(([name, value]) =>
            xml(
              "field",
              { var: name },
              (Array.isArray(value) ? value : [value]).map((v) => xml("value", {}, v)),
            ),
          ),
        );
      const reply = await request(
        xml(
          "iq",
          { type: "set", to, id: newId("command") },
          xml("command", { xmlns: NS_COMMANDS, node, action: "execute" }, form),
        ),
        `command ${node} at ${to}`,
      );
      const command = reply.getChild("command", NS_COMMANDS);
      if (!command) throw new Error(`command ${node} at ${to}: no <command/> in the reply ${reply.toString()}`);
      const result: CommandResult = { status: command.attrs.status ?? "", fields: new Map() };
      for (const field of command.getChild("x", NS_DATA)?.getChildren("field") ?? []) {
        if (field.attrs.var === undefined) continue;
        result.fields.set(
          field.attrs.var,
          field.getChildren("value").map((v) => v.text()),
        );
      }
      // Invites made from a client are tokens the suite was handed too (see handedOut.ts).
      for (const name of ["id", "uri", "landing-url"]) {
        for (const value of result.fields.get(name) ?? []) recordTokensIn(name === "id" ? `?${value}` : value);
      }
      const note = command.getChild("note");
      if (note) {
        result.note = note.text();
        result.noteType = note.attrs.type ?? "info";
      }
      return result;
    },

    async close() {
      if (closed) return;
      closed = true;
      await shutdown(entity, true);
    },
  };
}
