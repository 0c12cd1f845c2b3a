// Issue 26.1: how late a prompt receiver's events are while another receiver never answers. The
// service (built, from dist/, no XMPP needed) on a SQLite key store; a receiver that holds every
// request ("dead", WEBHOOK_TIMEOUT_MS 10 s as by default) with 16 events queued, a prompt one on the
// same host and one on another host. Then 16 events for each prompt one, one pair every 100 ms, put
// in the outbox from this process; each one's lateness is its arrival less its queueing.
//   npm run build && node --import tsx scripts/bench/webhookFairness.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { openStore } from "../../src/store/open.js";
import type { Delivery, Subscription } from "../../src/store/webhooks.js";
import { startReceiver } from "../../test/support/receiver.js";
import { startServiceWithoutXmpp } from "../../test/support/stack.js";
import { fmt, percentile } from "./measure.js";

const EVENTS = 16;
const dir = mkdtempSync(join(tmpdir(), "invites-api-fairness-"));
const keyStore = join(dir, "keys.sqlite");
const receiver = await startReceiver();
const arrived = new Map<string, number>();
receiver.answer = (r) => {
  if (r.path === "/dead") return "hang";
  arrived.set(String(r.headers["webhook-id"]), Date.now());
  return 204;
};
const backend = await openStore(keyStore);
const subscription = (id: string, host: string): Subscription => ({
  id,
  host,
  url: `${receiver.url}/${id}`,
  events: ["invite.created"],
  allowHttp: true,
  allowPrivate: true,
  secret: `whsec_${Buffer.alloc(32, 7).toString("base64")}`,
  createdAt: new Date().toISOString(),
});
const delivery = (id: string, subscriptionId: string): Delivery => ({
  id,
  subscriptionId,
  payload: JSON.stringify({ type: "invite.created", id }),
  createdAt: Date.now(),
  attempts: 0,
});
const service = await startServiceWithoutXmpp({ KEY_STORE: keyStore, WEBHOOK_POLL_MS: "100" });
try {
  await backend.webhooks.addSubscription(subscription("dead", "a.bench.test"));
  await backend.webhooks.enqueue(Array.from({ length: EVENTS }, (_, i) => delivery(`dead-${i}`, "dead")));
  await receiver.until((got) => got.length >= 2);
  await sleep(500);
  const held = receiver.received.length;
  await backend.webhooks.addSubscription(subscription("prompt", "a.bench.test"));
  await backend.webhooks.addSubscription(subscription("other", "b.bench.test"));
  const queuedAt = new Map<string, number>();
  for (let i = 0; i < EVENTS; i += 1) {
    const pair = [delivery(`prompt-${i}`, "prompt"), delivery(`other-${i}`, "other")];
    await backend.webhooks.enqueue(pair);
    for (const d of pair) queuedAt.set(d.id, Date.now());
    await sleep(100);
  }
  await receiver.until(() => arrived.size >= 2 * EVENTS, 120_000);
  console.log(`dead receiver: ${held} requests held at once before the others were queued`);
  for (const name of ["prompt", "other"]) {
    const late = [...queuedAt]
      .filter(([id]) => id.startsWith(`${name}-`))
      .map(([id, at]) => (arrived.get(id) ?? NaN) - at)
      .sort((x, y) => x - y);
    console.log(
      `${name.padEnd(6)} (${name === "prompt" ? "same host" : "other host"}): ${late.length} events late by ` +
        `p50 ${fmt(percentile(late, 0.5))} ms, max ${fmt(late.at(-1) ?? NaN)} ms`,
    );
  }
} finally {
  await service.stop();
  await backend.close();
  await receiver.stop();
  rmSync(dir, { recursive: true, force: true });
}
