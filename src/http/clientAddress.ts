import type { IncomingMessage } from "node:http";

/**
 * The address a request comes from. With no trusted proxy, the socket's peer. Behind N trusted
 * proxies, each appending the address it saw to X-Forwarded-For, the entry the outermost one
 * appended: the N-th from the right. Entries further left were written by the client itself, so a
 * client cannot choose its address (and dodge the failed-attempt limit) by sending the header.
 */
export function clientAddress(req: IncomingMessage, trustedProxies: number): string {
  const peer = req.socket.remoteAddress ?? "";
  const header = req.headers["x-forwarded-for"];
  if (trustedProxies === 0 || !header) return peer;
  // Node joins repeated X-Forwarded-For headers with ", ", in order.
  const entries = (Array.isArray(header) ? header.join(",") : header)
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  // Fewer entries than proxies: the request came in past the outer ones, the first entry is the client.
  return entries[Math.max(0, entries.length - trustedProxies)] ?? peer;
}
