import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { Webhook } from "standardwebhooks";
import { signingSecrets } from "./rotation.js";
import { bareHostname, guardedLookup, isPublicAddress, TargetRefusedError } from "./target.js";
import type { Delivery, Subscription } from "../store/webhooks.js";

/** The most of a receiver's answer that is read (the rest is dropped with the connection). */
const MAX_ANSWER_BYTES = 64 * 1024;

export type SendResult = { ok: true; status: number } | { ok: false; error: string };

/**
 * Sends one delivery, signed as Standard Webhooks says (HMAC-SHA256 over id.timestamp.body, with
 * the subscription's whsec_ secret, and its previous one during a rotation's grace). A 2xx answer
 * is a success; anything else (another status, a redirect, which is never followed, a refused
 * address, a timeout, a connection error) is a failure described in words. The whole exchange is
 * bounded by `timeoutMs`.
 */
export function send(subscription: Subscription, delivery: Delivery, timeoutMs: number): Promise<SendResult> {
  const url = new URL(subscription.url);
  const host = bareHostname(url.hostname);
  const literal = isIP(host) !== 0;
  if (literal && !subscription.allowPrivate && !isPublicAddress(host)) {
    return Promise.resolve({ ok: false, error: `refused: ${host} is not a public address` });
  }
  const timestamp = new Date();
  // Signed now with the secrets of now: during a rotation's grace, with the new and the old one.
  const signature = signingSecrets(subscription, timestamp)
    .map((secret) => new Webhook(secret).sign(delivery.id, timestamp, delivery.payload))
    .join(" ");
  const body = Buffer.from(delivery.payload);
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const req = request(url, {
      method: "POST",
      // One connection per delivery: each one looks the name up again and checks the address.
      agent: false,
      lookup: guardedLookup(subscription.allowPrivate),
      headers: {
        "Content-Type": "application/json",
        "Content-Length": body.length,
        "User-Agent": "invites-api",
        "webhook-id": delivery.id,
        "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1_000)),
        "webhook-signature": signature,
      },
    });
    const timer = setTimeout(() => finish({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    req.on("socket", (socket) =>
      socket.on("connect", () => {
        const peer = socket.remoteAddress ?? "";
        if (!subscription.allowPrivate && !isPublicAddress(peer)) {
          finish({ ok: false, error: `refused: connected to ${peer}, not a public address` });
        }
      }),
    );
    req.on("error", (err: NodeJS.ErrnoException) =>
      finish({
        ok: false,
        error:
          err instanceof TargetRefusedError ? `refused: ${err.message}` : `cannot deliver (${err.code ?? err.message})`,
      }),
    );
    req.on("response", (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_ANSWER_BYTES) finish(outcome(status));
      });
      res.on("end", () => finish(outcome(status)));
      res.on("error", () => finish(outcome(status)));
    });
    req.end(body);
  });
}

function outcome(status: number): SendResult {
  if (status >= 200 && status < 300) return { ok: true, status };
  if (status >= 300 && status < 400) return { ok: false, error: `answered ${status} (redirects are not followed)` };
  return { ok: false, error: `answered ${status}` };
}
