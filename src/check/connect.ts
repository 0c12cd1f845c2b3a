// XEP-0114: Jabber Component Protocol, one attempt. https://xmpp.org/extensions/xep-0114.html
import { component, type Element } from "@xmpp/component";
import { streamErrorFix } from "../xmpp/errors.js";

export interface OneConnection {
  request(stanza: Element, timeoutMs: number): Promise<Element>;
  close(): Promise<void>;
}

/** Why the component could not connect, in plain words, and what to change. */
export class ConnectFailure extends Error {
  override readonly name = "ConnectFailure";
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

interface Options {
  readonly service: string;
  readonly domain: string;
  readonly secret: string;
  readonly timeoutMs: number;
}

type XmppError = Error & { condition?: string; code?: string };

/** The failure a person can act on, from what the socket or Prosody said. */
export function connectFailure(err: XmppError | undefined, { service, domain, timeoutMs }: Options): ConnectFailure {
  const condition = err?.condition;
  const fix = condition ? streamErrorFix(condition, domain) : undefined;
  if (condition === "host-unknown" || condition === "improper-addressing") {
    return new ConnectFailure(
      `Prosody has no component "${domain}" (${condition})`,
      `add to prosody.cfg.lua: Component "${domain}" with component_secret = the value of COMPONENT_SECRET ` +
        `(or fix COMPONENT_DOMAIN)`,
    );
  }
  if (condition === "conflict") {
    // Prosody checks the secret first, and by default turns the newcomer away: the service keeps its connection.
    return new ConnectFailure(
      `the secret is accepted, but another process is connected as "${domain}" (conflict): the hosts cannot be checked`,
      `stop the running invites-api (or the other holder of "${domain}") while checking: Prosody accepts one ` +
        `connection per component`,
    );
  }
  if (condition === "not-authorized" && fix) {
    return new ConnectFailure(`Prosody refused the component's secret (${condition})`, fix);
  }
  if (fix) return new ConnectFailure(`Prosody refused the component (${condition})`, fix);
  const listening =
    `Prosody is not listening for components at ${service}: check component_ports and component_interfaces ` +
    `in prosody.cfg.lua, or COMPONENT_SERVICE`;
  if (err?.code === "ECONNREFUSED")
    return new ConnectFailure(`connection to ${service} refused (ECONNREFUSED)`, listening);
  if (err?.code) return new ConnectFailure(`cannot reach ${service} (${err.code})`, listening);
  if (condition) return new ConnectFailure(`Prosody closed the stream (${condition})`, "see Prosody's log");
  return new ConnectFailure(
    `no component handshake with ${service} within ${timeoutMs} ms${err ? ` (${err.message})` : ""}`,
    `COMPONENT_SERVICE must name Prosody's component port (component_ports), not its c2s or HTTP port`,
  );
}

/**
 * Connects once, within timeoutMs, without the library's reconnect: a check reports a failure, it
 * never waits for Prosody to come back. Throws ConnectFailure.
 */
export async function connectOnce(opts: Options): Promise<OneConnection> {
  const entity = component({ service: opts.service, domain: opts.domain, password: opts.secret });
  entity.reconnect.stop();
  // The first error is the news: a rejected handshake is followed by the socket's own reset.
  let first: XmppError | undefined;
  let failed: (err: XmppError) => void = () => {};
  const failure = new Promise<never>((_, reject) => (failed = reject));
  entity.on("error", (err: XmppError) => {
    first ??= err;
    failed(err);
  });

  const close = async () => {
    if (entity.status !== "offline" && entity.status !== "disconnect") {
      await Promise.race([entity.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000).unref())]);
    }
    (entity as unknown as { socket?: { destroy(): void } | null }).socket?.destroy();
    entity.removeAllListeners();
    entity.on("error", () => {});
  };

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timeout")), opts.timeoutMs);
  });
  try {
    await Promise.race([entity.start(), deadline, failure]);
  } catch (err) {
    await close();
    throw connectFailure(first ?? (err instanceof Error && err.message !== "timeout" ? err : undefined), opts);
  } finally {
    clearTimeout(timer);
  }
  return { request: (stanza, timeoutMs) => entity.iqCaller.request(stanza, timeoutMs), close };
}
