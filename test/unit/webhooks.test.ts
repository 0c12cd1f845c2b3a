import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { createLogger } from "../../src/log.js";
import { startDeliverer } from "../../src/webhooks/deliverer.js";
import { deliveriesFor } from "../../src/webhooks/events.js";
import type { SendResult } from "../../src/webhooks/send.js";
import { memoryWebhooks } from "../../src/store/memory/webhooks.js";
import { checkUrl, isPublicAddress } from "../../src/webhooks/target.js";
import type { Delivery, Subscription } from "../../src/store/webhooks.js";

const subscription = (id: string, events: Subscription["events"] = ["invite.created"]): Subscription => ({
  id,
  host: "e.test",
  url: "https://hooks.example/in",
  events,
  allowHttp: false,
  allowPrivate: false,
  secret: `whsec_${Buffer.alloc(32, 1).toString("base64")}`,
  createdAt: "2026-12-01T00:00:00.000Z",
});
const body = (invite: string) =>
  ({ type: "invite.created", timestamp: "t", data: { host: "e.test", invite, key: "K" } }) as const;

describe("webhook targets", () => {
  it("only ordinary public addresses are public, IPv4-mapped IPv6 included", () => {
    for (const address of [
      "127.0.0.1",
      "::1",
      "10.0.0.1",
      "172.16.5.4",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "fe80::1",
      "fc00::1",
      "::",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
      "not an address",
    ]) {
      assert.equal(isPublicAddress(address), false, address);
    }
    for (const address of ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8"]) {
      assert.equal(isPublicAddress(address), true, address);
    }
  });

  it("https by default, http only when allowed, never credentials or another scheme", () => {
    assert.equal(checkUrl("https://hooks.example/in", { allowHttp: false }).href, "https://hooks.example/in");
    assert.equal(checkUrl("http://hooks.example/in", { allowHttp: true }).protocol, "http:");
    for (const [url, allowHttp] of [
      ["http://hooks.example/in", false],
      ["https://user:pw@hooks.example/in", false],
      ["ftp://hooks.example/", true],
      ["hooks.example/in", true],
      ["", true],
    ] as const) {
      assert.throws(() => checkUrl(url, { allowHttp }), /./, url);
    }
  });
});

describe("webhook events", () => {
  it("one delivery per subscription of the host that takes the event; the id is the same each time it is made", () => {
    const subs = [
      subscription("a"),
      subscription("b"),
      subscription("c", ["invite.redeemed"]),
      { ...subscription("d"), host: "other.test" },
    ];
    const once = deliveriesFor(subs, "created\nTOK", body("TOK"), 1);
    const twice = deliveriesFor(subs, "created\nTOK", body("TOK"), 2);
    assert.deepEqual(
      once.map((d) => d.subscriptionId),
      ["a", "b"],
    );
    assert.deepEqual(
      once.map((d) => d.id),
      twice.map((d) => d.id),
    );
    assert.notEqual(once[0]?.id, once[1]?.id);
    assert.notEqual(deliveriesFor(subs, "created\nOTHER", body("OTHER"), 1)[0]?.id, once[0]?.id);
    assert.match(once[0]?.id ?? "", /^msg_[A-Za-z0-9_-]{32}$/);
  });
});

describe("the deliverer", () => {
  const quiet = () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on("data", (chunk: Buffer) => lines.push(...chunk.toString().trim().split("\n")));
    return { log: createLogger("info", out), lines };
  };

  async function run(
    answers: (d: Delivery, attempt: number) => SendResult,
    opts: { windowMs?: number; clock?: { t: number }; deliverers?: number } = {},
  ) {
    const store = memoryWebhooks();
    await store.addSubscription(subscription("a"));
    const clock = opts.clock ?? { t: 1_000_000 };
    const sent: Array<{ id: string; attempt: number }> = [];
    const counted: string[] = [];
    const { log, lines } = quiet();
    const attempts = new Map<string, number>();
    const deliverers = Array.from({ length: opts.deliverers ?? 1 }, () =>
      startDeliverer({
        store,
        log,
        counted: (o) => counted.push(o),
        timeoutMs: 1_000,
        leaseMs: 60_000,
        retry: { minMs: 1_000, maxMs: 8_000 },
        windowMs: opts.windowMs ?? 24 * 3_600_000,
        pollMs: 3_600_000,
        warnEveryMs: 60_000,
        concurrency: 4,
        perSubscription: 4,
        now: () => clock.t,
        send: async (_s, d) => {
          const attempt = (attempts.get(d.id) ?? 0) + 1;
          attempts.set(d.id, attempt);
          sent.push({ id: d.id, attempt });
          await new Promise((resolve) => setImmediate(resolve));
          return answers(d, attempt);
        },
      }),
    );
    const tick = async (ms: number) => {
      clock.t += ms;
      for (const d of deliverers) d.wake();
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    return { store, sent, counted, lines, tick, stop: () => Promise.all(deliverers.map((d) => d.stop())) };
  }

  it("retries a failure with growing delays, same id, until a 2xx; then the outbox is empty", async () => {
    const t = await run((_d, attempt) =>
      attempt < 4 ? { ok: false, error: "answered 503" } : { ok: true, status: 204 },
    );
    try {
      await t.store.enqueue(deliveriesFor([subscription("a")], "e1", body("T1"), 1_000_000));
      await t.tick(0);
      assert.equal(t.sent.length, 1);
      await t.tick(100); // well before the first retry (at least 750 ms)
      assert.equal(t.sent.length, 1);
      for (const wait of [1_000, 2_000, 4_000]) await t.tick(wait);
      assert.deepEqual(
        t.sent.map((s) => s.attempt),
        [1, 2, 3, 4],
      );
      assert.equal(new Set(t.sent.map((s) => s.id)).size, 1);
      assert.deepEqual(t.counted, ["failed", "failed", "failed", "delivered"]);
      assert.deepEqual(await t.store.backlog(), { count: 0 });
      // One warning for the failing subscription within the interval, and a line when it recovers.
      assert.equal(t.lines.filter((l) => l.includes("webhook deliveries failing")).length, 1);
      assert.equal(t.lines.filter((l) => l.includes("answers again")).length, 1);
    } finally {
      await t.stop();
    }
  });

  it("drops a delivery once retrying would pass the window", async () => {
    const t = await run(() => ({ ok: false, error: "answered 500" }), { windowMs: 5_000 });
    try {
      await t.store.enqueue(deliveriesFor([subscription("a")], "e1", body("T1"), 1_000_000));
      for (let i = 0; i < 10; i += 1) await t.tick(8_000);
      assert.equal(t.counted.at(-1), "dropped");
      assert.equal(t.counted.filter((c) => c === "dropped").length, 1);
      assert.deepEqual(await t.store.backlog(), { count: 0 });
      assert.ok(t.lines.some((l) => l.includes("webhook delivery dropped")));
    } finally {
      await t.stop();
    }
  });

  it("two deliverers on one outbox: each delivery sent once while its lease holds", async () => {
    const t = await run(() => ({ ok: true, status: 200 }), { deliverers: 2 });
    try {
      const deliveries = Array.from({ length: 20 }, (_, i) =>
        deliveriesFor([subscription("a")], `e${i}`, body(`T${i}`), 1_000_000),
      ).flat();
      await t.store.enqueue(deliveries);
      await t.tick(0);
      await t.tick(0);
      assert.equal(t.sent.length, 20);
      assert.equal(new Set(t.sent.map((s) => s.id)).size, 20);
    } finally {
      await t.stop();
    }
  });
});
