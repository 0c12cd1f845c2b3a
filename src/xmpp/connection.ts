// XEP-0114: Jabber Component Protocol. https://xmpp.org/extensions/xep-0114.html
import { component, type Element } from "@xmpp/component";
import type { Logger } from "../log.js";
import { XmppUnavailableError, streamErrorFix } from "./errors.js";
import { nextDelay } from "./backoff.js";

export interface ConnectionOptions {
  readonly service: string;
  readonly domain: string;
  readonly secret: string;
  readonly reconnect: { readonly minMs: number; readonly maxMs: number };
  /** From opening the socket to Prosody's answer to the handshake; beyond it the attempt is dropped. */
  readonly handshakeTimeoutMs?: number;
  readonly log: Logger;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ConnectionStatus {
  readonly online: boolean;
  /** Why the component is offline, when known (a configuration error, or Prosody unreachable). */
  readonly problem?: string;
}

export interface ComponentConnection {
  readonly jid: string;
  status(): ConnectionStatus;
  /** Sends an IQ; fails at once when offline, and when the connection drops before the reply. */
  request(stanza: Element, timeoutMs: number): Promise<Element>;
  /** Sends a stanza that has no reply (a <message/>); fails at once when offline. */
  send(stanza: Element): Promise<void>;
  /** Resolves on the first successful connection (tests and start-up use it); never rejects. */
  online(): Promise<void>;
  /** Called at each (re)connection. */
  onOnline(listener: () => void): void;
  /** Called with each <message/> Prosody sends the component. */
  onMessage(listener: (message: Element) => void): void;
  stop(): Promise<void>;
}

class HandshakeTimeout extends Error {}

/**
 * Keeps one component connection to Prosody up. The library's own reconnect (a fixed 1 s loop) is
 * replaced by exponential backoff with jitter; a state change is logged once, not once per attempt.
 */
export function connectComponent(opts: ConnectionOptions): ComponentConnection {
  const { service, domain, secret, log } = opts;
  const entity = component({ service, domain, password: secret });
  entity.reconnect.stop();
  // A backstop over the library's own 2 s waits (stream header, handshake answer): it also bounds
  // a TCP connect that gets no answer at all.
  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;

  let stopped = false;
  let online = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let problem: string | undefined;
  const inflight = new Set<(err: Error) => void>();
  const onlineWaiters: Array<() => void> = [];
  const onlineListeners: Array<() => void> = [];
  const messageListeners: Array<(message: Element) => void> = [];

  entity.on("stanza", (stanza: Element) => {
    if (stanza.name === "message") for (const listener of messageListeners) listener(stanza);
  });

  const setProblem = (next: string, fields: Record<string, unknown>) => {
    if (next === problem) return;
    problem = next;
    log.error({ component: domain, ...fields }, next);
  };

  // A rejected handshake is followed by the socket's own reset; the rejection is the news.
  let rejected = false;
  entity.on("error", (err: Error & { condition?: string; code?: string }) => {
    const fix = err.condition ? streamErrorFix(err.condition, domain) : undefined;
    if (fix) {
      rejected = true;
      setProblem(`Prosody rejected the component connection (${err.condition})`, { fix });
    } else if (err.code && !(rejected && (err.code === "ECONNRESET" || err.code === "EPIPE"))) {
      rejected = false;
      setProblem(`cannot reach Prosody at ${service} (${err.code})`, {});
    } else if (!err.code) {
      log.warn({ component: domain, err: err.message }, "component connection error");
    }
  });

  entity.on("online", () => {
    // Each invite is one small request and one small reply: send at once, never wait for Nagle.
    (entity as unknown as { socket?: { setNoDelay?: (on: boolean) => void } }).socket?.setNoDelay?.(true);
    online = true;
    rejected = false;
    attempt = 0;
    problem = undefined;
    // `prosody`, not `service`: every line already names this process as `service`.
    log.info({ component: domain, prosody: service }, "connected to Prosody");
    onlineWaiters.splice(0).forEach((resolve) => resolve());
    for (const listener of onlineListeners) listener();
  });

  entity.on("disconnect", () => {
    // A stop closes the stream itself: that is no loss, and nothing reconnects.
    if (online && !stopped) log.warn({ component: domain }, "connection to Prosody lost; reconnecting");
    online = false;
    const lost = new XmppUnavailableError("connection to Prosody lost");
    for (const fail of inflight) fail(lost);
    inflight.clear();
    schedule();
  });

  function schedule(): void {
    if (stopped || timer) return;
    const delay = nextDelay(attempt++, opts.reconnect.minMs, opts.reconnect.maxMs);
    log.debug({ component: domain, delay }, "reconnect scheduled");
    timer = setTimeout(() => {
      timer = undefined;
      void attemptConnection();
    }, delay);
  }

  /**
   * One attempt: the socket, the stream header and the handshake's answer, within one deadline. The
   * library reports a failed handshake (unanswered, or answered with something else) only as an
   * "error" event and leaves the stream open; an attempt that is not online by then is closed, so
   * that "disconnect" schedules the next one and no half-open stream is left behind.
   */
  async function attemptConnection(): Promise<void> {
    const handshake = untilOnline(handshakeTimeoutMs);
    handshake.catch(() => undefined); // awaited below; heard now in case connect() or open() throws first
    let opened = false;
    try {
      await Promise.race([entity.connect(service), handshake]);
      await Promise.race([entity.open({ domain }), handshake]);
      opened = true;
      await handshake;
    } catch (err) {
      const condition = (err as { condition?: string }).condition;
      if (err instanceof HandshakeTimeout || (opened && !condition)) {
        // A stream error (a wrong secret, say) has been reported with its fix by the error handler.
        setProblem("Prosody did not complete the component handshake; trying again", {
          reason: (err as Error).message,
        });
      }
      // An attempt that never came online needs no goodbye: its socket is destroyed, and its
      // "close" brings the "disconnect" that schedules the next attempt.
      if (entity.status !== "disconnect" && entity.status !== "offline") {
        (entity as unknown as { socket?: { destroy(): void } | null }).socket?.destroy();
      }
      if (entity.status === "offline") schedule();
    }
  }

  /** Resolves when the handshake succeeds; rejects on an error, a lost socket, or the deadline. */
  function untilOnline(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        entity.off("online", onOnline);
        entity.off("error", onError);
        entity.off("disconnect", onDisconnect);
        outcome();
      };
      const onOnline = () => settle(resolve);
      const onError = (err: Error) => settle(() => reject(err));
      const onDisconnect = () => settle(() => reject(new Error("disconnected during the handshake")));
      const timer = setTimeout(() => settle(() => reject(new HandshakeTimeout(`no answer within ${ms} ms`))), ms);
      entity.on("online", onOnline);
      entity.on("error", onError);
      entity.on("disconnect", onDisconnect);
    });
  }

  void attemptConnection();

  return {
    jid: domain,
    status: () => (online ? { online } : { online, problem: problem ?? "connecting to Prosody" }),

    request(stanza, timeoutMs) {
      // The library throws a TypeError when asked to send while disconnected: answer first.
      if (!online || stopped) return Promise.reject(new XmppUnavailableError());
      return new Promise<Element>((resolve, reject) => {
        inflight.add(reject);
        entity.iqCaller
          .request(stanza, timeoutMs)
          .then(resolve, reject)
          .finally(() => inflight.delete(reject));
      });
    },

    async send(stanza) {
      if (!online || stopped) throw new XmppUnavailableError();
      try {
        await entity.send(stanza);
      } catch {
        // Thrown by the transport (a socket closing under the write, say).
        throw new XmppUnavailableError("connection to Prosody failed while sending");
      }
    },

    online: () => (online ? Promise.resolve() : new Promise<void>((resolve) => onlineWaiters.push(resolve))),
    onOnline: (listener) => void onlineListeners.push(listener),
    onMessage: (listener) => void messageListeners.push(listener),

    async stop() {
      stopped = true;
      clearTimeout(timer);
      const closing = new XmppUnavailableError("shutting down");
      for (const fail of inflight) fail(closing);
      inflight.clear();
      if (entity.status !== "offline" && entity.status !== "disconnect") {
        await entity.stop().catch(() => undefined);
      }
      entity.removeAllListeners();
      entity.on("error", () => {});
    },
  };
}
