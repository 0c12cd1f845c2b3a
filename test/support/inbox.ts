/**
 * A logged-in XMPP client that keeps the chat messages it receives (RFC 6121 §5), for tests of what
 * the component sends people: a sign-in link, an inviter's news. Logs in with @xmpp/client over
 * plain TCP to a test Prosody's c2s port and says it is available (a chat message to a bare JID goes
 * to an available resource).
 */
import { createRequire } from "node:module";

interface Stanza {
  name: string;
  attrs: Record<string, string | undefined>;
  getChildText(name: string): string | null;
}

interface ClientEntity {
  on(event: string, listener: (stanza: Stanza) => void): void;
  send(stanza: unknown): Promise<void>;
  reconnect: { stop(): void };
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  socket?: { destroy(): void } | null;
}

const { client, xml } = createRequire(import.meta.url)("@xmpp/client") as {
  client(options: Record<string, string>): ClientEntity;
  xml(name: string): unknown;
};

export interface ChatMessage {
  readonly from: string;
  readonly body: string;
}

export interface Inbox {
  /** The first chat message from `from` whose body `matches`, within `ms`; undefined if none came. */
  next(from: string, matches: (body: string) => boolean, ms: number): Promise<string | undefined>;
  readonly received: readonly ChatMessage[];
  close(): Promise<void>;
}

export async function openInbox(opts: {
  port: number;
  domain: string;
  username: string;
  password: string;
}): Promise<Inbox> {
  const entity = client({
    service: `xmpp://127.0.0.1:${opts.port}`,
    domain: opts.domain,
    username: opts.username,
    password: opts.password,
    resource: "inbox",
  });
  entity.reconnect.stop();
  entity.on("error", () => undefined);
  const received: ChatMessage[] = [];
  let wake: (() => void) | undefined;
  entity.on("stanza", (stanza) => {
    const body = stanza.name === "message" && stanza.attrs.type === "chat" ? stanza.getChildText("body") : null;
    if (body === null) return;
    received.push({ from: String(stanza.attrs.from ?? ""), body });
    wake?.();
  });
  try {
    await entity.start();
    await entity.send(xml("presence"));
  } catch (err) {
    entity.socket?.destroy();
    throw err;
  }
  return {
    received,
    async next(from, matches, ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = received.find((m) => m.from === from && matches(m.body));
        if (found) return found.body;
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    async close() {
      await Promise.race([entity.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 3_000))]);
      entity.socket?.destroy();
    },
  };
}
