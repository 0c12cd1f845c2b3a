import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** One request a receiver got: its headers and body, and the status it was answered with. */
export interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly path: string;
  /** What it was answered: a status, or "hang". */
  answered?: number | "hang";
}

/**
 * A webhook receiver on 127.0.0.1: records every request. `answer` decides each one: a status, or
 * "hang" (the request is held until the receiver stops). `down()` closes the port (connections are
 * refused), `up()` opens it again on the same port.
 */
export interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  answer: (request: Received) => number | "hang";
  /** How long each answer waits (a slow receiver). */
  delayMs: number;
  down(): Promise<void>;
  up(): Promise<void>;
  /** Resolves once `predicate` holds for what was received (polls). */
  until(predicate: (received: readonly Received[]) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startReceiver(port = 0): Promise<Receiver> {
  const held = new Set<ServerResponse>();
  let server: Server | undefined;
  let boundPort = port;
  const receiver: Receiver = {
    url: "",
    port: 0,
    received: [],
    answer: () => 204,
    delayMs: 0,
    async down() {
      const closing = server;
      server = undefined;
      if (!closing) return;
      for (const res of held) res.destroy();
      held.clear();
      closing.closeAllConnections();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
    async up() {
      const next = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => {
          const request: Received = {
            headers: req.headers,
            body: Buffer.concat(chunks).toString(),
            path: req.url ?? "",
          };
          receiver.received.push(request);
          const status = receiver.answer(request);
          request.answered = status;
          if (status === "hang") {
            held.add(res);
            return;
          }
          setTimeout(() => {
            res.writeHead(status, status >= 300 && status < 400 ? { Location: `${receiver.url}/elsewhere` } : {});
            res.end();
          }, receiver.delayMs);
        });
      });
      await new Promise<void>((resolve, reject) => {
        next.once("error", reject);
        next.listen(boundPort, "127.0.0.1", () => resolve());
      });
      boundPort = (next.address() as AddressInfo).port;
      server = next;
      Object.assign(receiver, { port: boundPort, url: `http://127.0.0.1:${boundPort}` });
    },
    async until(predicate, timeoutMs = 20_000) {
      const started = Date.now();
      while (!predicate(receiver.received)) {
        if (Date.now() - started > timeoutMs) {
          throw new Error(`receiver: not there within ${timeoutMs} ms; got ${receiver.received.length} requests`);
        }
        await sleep(50);
      }
    },
    stop: () => receiver.down(),
  };
  await receiver.up();
  return receiver;
}
