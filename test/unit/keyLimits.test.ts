import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import Keyv from "keyv";
import { pino } from "pino";
import { createHttpApp } from "../../src/http/server.js";
import { createKeyStore, type KeyStore } from "../../src/keys/keyStore.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { createRateLimits, type RateLimitOptions } from "../../src/limits/rateLimits.js";
import type { Invite, InviteIssuer } from "../../src/xmpp/inviteIssuer.js";
import { fakeManager } from "../support/fakeManager.js";

const INVITE: Invite = {
  url: "https://e.test/p?TOKEN123",
  uri: "xmpp:e.test?register;preauth=TOKEN123",
  expires: "2026-12-05T16:19:43Z",
};

interface Harness {
  base: string;
  keys: KeyStore;
  calls: string[];
  logs: Array<Record<string, unknown>>;
  clock: { now: Date };
  fail: { next: boolean };
  close(): Promise<void>;
}

async function harness(limits: Partial<RateLimitOptions> = {}): Promise<Harness> {
  const keys = createKeyStore(new Keyv());
  const calls: string[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const clock = { now: new Date("2026-11-28T12:00:00Z") };
  const fail = { next: false };
  const issuer: InviteIssuer = {
    createAccountInvite: async (host) => {
      calls.push(host);
      if (fail.next) throw new Error("prosody fell over");
      return INVITE;
    },
    createResetInvite: async () => INVITE,
  };
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const server = createHttpApp({
    keys,
    metrics: createMetrics({ xmppOnline: () => true }),
    limits: createRateLimits({ defaultKeyRate: undefined, failureLimit: undefined, ...limits }),
    issuer,
    manager: fakeManager().manager,
    log: pino({ level: "info" }, sink),
    xmppStatus: () => ({ online: true }),
    now: () => clock.now,
    trustedProxies: 1,
  }).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/invites_api`;
  return { base, keys, calls, logs, clock, fail, close: () => new Promise((r) => server.close(() => r())) };
}

describe("key options enforced by the HTTP API", () => {
  it("refuses an expired key with 403 saying so, without asking Prosody", async () => {
    const h = await harness();
    try {
      const { key } = await h.keys.create("e.test", { expiresAt: "2026-11-28T12:00:30Z" });
      assert.equal((await fetch(`${h.base}?key=${key}`)).status, 201);
      h.clock.now = new Date("2026-11-28T12:00:30Z");
      const res = await fetch(`${h.base}?key=${key}`);
      assert.equal(res.status, 403);
      assert.match(await res.text(), /expired/);
      assert.equal(h.calls.length, 1);
    } finally {
      await h.close();
    }
  });

  it("stops a key at its max-invites with 403 saying so; a failed invite does not count", async () => {
    const h = await harness();
    try {
      const { key, info } = await h.keys.create("e.test", { maxInvites: 2 });
      assert.equal((await fetch(`${h.base}?key=${key}`)).status, 201);
      h.fail.next = true;
      assert.equal((await fetch(`${h.base}?key=${key}`)).status, 500);
      h.fail.next = false;
      assert.equal((await fetch(`${h.base}?key=${key}`)).status, 201);
      const res = await fetch(`${h.base}?key=${key}`);
      assert.equal(res.status, 403);
      assert.match(await res.text(), /all the invites/);
      assert.equal(h.calls.length, 3);
      assert.equal((await h.keys.get("e.test", info.id))?.invitesIssued, 2);
    } finally {
      await h.close();
    }
  });

  it("never lets concurrent requests overrun max-invites", async () => {
    const h = await harness();
    try {
      const { key } = await h.keys.create("e.test", { maxInvites: 5 });
      const statuses = await Promise.all(
        Array.from({ length: 20 }, () => fetch(`${h.base}?key=${key}`).then((r) => r.status)),
      );
      assert.equal(statuses.filter((s) => s === 201).length, 5);
      assert.equal(h.calls.length, 5);
    } finally {
      await h.close();
    }
  });

  it("rate-limits a key with 429 and Retry-After, per its own --rate or the default", async () => {
    const h = await harness({ defaultKeyRate: { points: 3, durationSeconds: 60 } });
    try {
      const own = await h.keys.create("e.test", { rate: { points: 1, durationSeconds: 30 } });
      assert.equal((await fetch(`${h.base}?key=${own.key}`)).status, 201);
      const limited = await fetch(`${h.base}?key=${own.key}`);
      assert.equal(limited.status, 429);
      const retry = Number(limited.headers.get("retry-after"));
      assert.ok(retry > 0 && retry <= 30, String(retry));
      const byDefault = await h.keys.create("e.test");
      const statuses = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await fetch(`${h.base}?key=${byDefault.key}`)).status);
      assert.deepEqual(statuses, [201, 201, 201, 429]);
    } finally {
      await h.close();
    }
  });

  it("blocks an address after too many failed key attempts, even for a valid key, not others", async () => {
    const h = await harness({ failureLimit: { points: 3, durationSeconds: 60 } });
    try {
      const { key } = await h.keys.create("e.test");
      const from = (ip: string) => ({ headers: { "X-Forwarded-For": ip } });
      const statuses = [];
      for (let i = 0; i < 5; i += 1)
        statuses.push((await fetch(`${h.base}?key=bad/${"x".repeat(32)}`, from("192.0.2.7"))).status);
      assert.deepEqual(statuses, [403, 403, 403, 429, 429]);
      const blocked = await fetch(`${h.base}?key=${key}`, from("192.0.2.7"));
      assert.equal(blocked.status, 429);
      assert.ok(Number(blocked.headers.get("retry-after")) > 0);
      assert.equal((await fetch(`${h.base}?key=${key}`, from("192.0.2.8"))).status, 201);
    } finally {
      await h.close();
    }
  });

  it("records usage and writes one audit line per invite, without token or secret", async () => {
    const h = await harness();
    try {
      const { key, info } = await h.keys.create("e.test");
      await fetch(`${h.base}?key=${key}`);
      await fetch(`${h.base}`, { method: "POST", headers: { Authorization: `Bearer ${key}` } });
      await h.keys.flush();
      const stored = await h.keys.get("e.test", info.id);
      assert.equal(stored?.invitesIssued, 2);
      assert.equal(stored?.lastUsedAt, "2026-11-28T12:00:00.000Z");
      const audit = h.logs.filter((l) => l.audit === "invite");
      assert.equal(audit.length, 2);
      assert.deepEqual(
        { keyId: audit[0]?.keyId, host: audit[0]?.host, expires: audit[0]?.expires },
        { keyId: info.id, host: "e.test", expires: INVITE.expires },
      );
      const text = JSON.stringify(h.logs);
      assert.equal(text.includes("TOKEN123"), false);
      assert.equal(text.includes(key.split("/")[1] ?? "-"), false);
    } finally {
      await h.close();
    }
  });
});
