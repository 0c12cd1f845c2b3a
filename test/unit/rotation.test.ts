import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Keyv from "keyv";
import { Webhook } from "standardwebhooks";
import { hashSecret, parseKey } from "../../src/keys/apiKey.js";
import { parseGrace } from "../../src/keys/durations.js";
import { createKeyStore, type KeyRecord } from "../../src/keys/keyStore.js";
import { acceptsSecret, graceUntil, rotatedRecord } from "../../src/keys/rotation.js";
import { KeyNotFoundError } from "../../src/errors.js";
import { memoryWebhooks } from "../../src/store/memory/webhooks.js";
import { openBackend } from "../../src/store/open.js";
import type { Delivery, Subscription } from "../../src/store/webhooks.js";
import { send } from "../../src/webhooks/send.js";
import {
  generateSigningSecret,
  rotateSubscription,
  rotatedSubscription,
  signingSecrets,
} from "../../src/webhooks/rotation.js";

const T0 = new Date("2026-12-01T00:00:00.000Z");
const later = (ms: number) => new Date(T0.getTime() + ms);

const record = (secret: string): KeyRecord => ({
  id: "AbCd1234",
  host: "e.test",
  name: "k",
  createdAt: "2026-11-01T00:00:00.000Z",
  methods: ["POST"],
  scopes: ["create", "reset"],
  maxInvites: 7,
  secretHash: hashSecret(secret),
});
const SECRET = (c: string) => c.repeat(32);

describe("a rotation's grace", () => {
  it("is 0 (at once) or a duration up to 30 days, as other durations are written", () => {
    assert.equal(parseGrace("0"), 0);
    assert.equal(parseGrace("0s"), 0);
    assert.equal(parseGrace("3s"), 3_000);
    assert.equal(parseGrace("24h"), 86_400_000);
    assert.equal(parseGrace("30d"), 30 * 86_400_000);
    for (const bad of ["31d", "1y", "-1h", "", "soon", "1h30m", "0x"]) assert.equal(parseGrace(bad), undefined, bad);
  });
});

describe("a key's rotation", () => {
  it("changes only the secret: the old one is kept, hashed, until the grace ends", () => {
    const rotated = rotatedRecord(record(SECRET("a")), hashSecret(SECRET("b")), T0, 3_000);
    const { secretHash, previousSecretHash, previousSecretUntil, rotatedAt, ...rest } = rotated;
    const { secretHash: oldHash, ...before } = record(SECRET("a"));
    assert.deepEqual(rest, before);
    assert.equal(secretHash, hashSecret(SECRET("b")));
    assert.equal(previousSecretHash, oldHash);
    assert.equal(previousSecretUntil, "2026-12-01T00:00:03.000Z");
    assert.equal(rotatedAt, T0.toISOString());
  });

  it("accepts the new secret at once and the old one only before the grace ends", () => {
    const rotated = rotatedRecord(record(SECRET("a")), hashSecret(SECRET("b")), T0, 3_000);
    assert.ok(acceptsSecret(rotated, SECRET("b"), T0));
    assert.ok(acceptsSecret(rotated, SECRET("a"), later(2_999)));
    assert.equal(graceUntil(rotated, later(2_999)), "2026-12-01T00:00:03.000Z");
    assert.equal(acceptsSecret(rotated, SECRET("a"), later(3_000)), false);
    assert.equal(graceUntil(rotated, later(3_000)), undefined);
    assert.ok(acceptsSecret(rotated, SECRET("b"), later(86_400_000)));
    assert.equal(acceptsSecret(rotated, SECRET("c"), T0), false);
    assert.equal(acceptsSecret(undefined, SECRET("a"), T0), false);
  });

  it("a second rotation in the grace ends the oldest secret at once; the one it replaces gets the new grace", () => {
    const once = rotatedRecord(record(SECRET("a")), hashSecret(SECRET("b")), T0, 60_000);
    const twice = rotatedRecord(once, hashSecret(SECRET("c")), later(1_000), 5_000);
    assert.equal(acceptsSecret(twice, SECRET("a"), later(1_000)), false);
    assert.ok(acceptsSecret(twice, SECRET("b"), later(5_999)));
    assert.equal(acceptsSecret(twice, SECRET("b"), later(6_000)), false);
    assert.ok(acceptsSecret(twice, SECRET("c"), later(6_000)));
  });

  it("with a grace of 0, every earlier secret ends at once", () => {
    const once = rotatedRecord(record(SECRET("a")), hashSecret(SECRET("b")), T0, 60_000);
    const now = rotatedRecord(once, hashSecret(SECRET("c")), later(1), 0);
    assert.equal(now.previousSecretHash, undefined);
    assert.equal(now.previousSecretUntil, undefined);
    for (const old of ["a", "b"]) assert.equal(acceptsSecret(now, SECRET(old), later(1)), false);
    assert.ok(acceptsSecret(now, SECRET("c"), later(1)));
  });

  it("through the key store: id, options and usage stay; the grace shows until it ends; the old secret then fails", async () => {
    const clock = { now: T0 };
    const keys = createKeyStore(new Keyv(), undefined, { now: () => clock.now });
    const made = await keys.create("e.test", { name: "k", maxInvites: 9 });
    keys.recordInvite(made.info.id, T0);
    await keys.flush();
    const old = parseKey(made.key)!;
    const rotated = await keys.rotate("e.test", old.id, 3_000);
    const fresh = parseKey(rotated.key)!;
    assert.equal(fresh.id, old.id);
    assert.notEqual(fresh.secret, old.secret);
    assert.equal(rotated.info.previousSecretUntil, "2026-12-01T00:00:03.000Z");
    assert.ok(await keys.verify(fresh));
    assert.ok(await keys.verify(old));
    const shown = await keys.get("e.test", old.id);
    assert.equal(shown?.invitesIssued, 1);
    assert.equal(shown?.maxInvites, 9);
    assert.equal(shown?.previousSecretUntil, "2026-12-01T00:00:03.000Z");
    assert.equal(shown?.rotatedAt, T0.toISOString());
    assert.equal("previousSecretHash" in (shown ?? {}), false, "no hash is shown");
    clock.now = later(3_000);
    assert.equal(await keys.verify(old), undefined);
    assert.ok(await keys.verify(fresh));
    assert.equal((await keys.list("e.test"))[0]?.previousSecretUntil, undefined, "the grace is over");
  });

  it("refuses an unknown key and another host's key", async () => {
    const keys = createKeyStore(new Keyv());
    const made = await keys.create("e.test");
    await assert.rejects(keys.rotate("e.test", "NoSuchId", 0), KeyNotFoundError);
    await assert.rejects(keys.rotate("other.test", made.info.id, 0), KeyNotFoundError);
    assert.ok(await keys.verify(parseKey(made.key)!), "left as it was");
  });
});

describe("a key's rotation on a SQLite file whose lookups are cached", () => {
  const dir = mkdtempSync(join(tmpdir(), "rotation-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("the service's cache sees a rotation another process made at once: the new secret works, the old one ends with its grace", async () => {
    const path = join(dir, "keys.sqlite");
    const service = await openBackend(path);
    const cli = await openBackend(path);
    const clock = { now: new Date() };
    const keys = createKeyStore(service.keyRecords, service.usage, { changes: service.changes, now: () => clock.now });
    const cliKeys = createKeyStore(cli.keyRecords, cli.usage, { rows: cli.keyRows });
    const old = parseKey((await cliKeys.create("e.test")).key)!;
    assert.ok(await keys.verify(old));
    assert.ok(await keys.verify(old));
    assert.equal(typeof service.changes?.current(), "number", "lookups are cached");
    const rotation = await cliKeys.rotate("e.test", old.id, 60_000);
    const fresh = parseKey(rotation.key)!;
    assert.ok(await keys.verify(fresh), "the new secret at once");
    assert.ok(await keys.verify(old), "the old one in its grace");
    clock.now = new Date(rotation.info.previousSecretUntil ?? 0);
    assert.equal(await keys.verify(old), undefined, "the old one after its grace, from the cached record");
    const now = parseKey((await cliKeys.rotate("e.test", old.id, 0)).key)!;
    assert.equal(await keys.verify(fresh), undefined, "a grace of 0 ends it at once");
    assert.ok(await keys.verify(now));
    await keys.close();
    await cliKeys.close();
    await service.close();
    await cli.close();
  });
});

const subscription: Subscription = {
  id: "s1",
  host: "e.test",
  url: "http://127.0.0.1:9/",
  events: ["invite.created"],
  allowHttp: true,
  allowPrivate: true,
  secret: generateSigningSecret(),
  createdAt: "2026-11-01T00:00:00.000Z",
};

describe("a webhook's rotation", () => {
  it("signs with the new secret first and the old one until the grace ends, then with the new one only", () => {
    const rotated = rotatedSubscription(subscription, "whsec_new", T0, 3_000);
    assert.deepEqual(signingSecrets(rotated, T0), ["whsec_new", subscription.secret]);
    assert.deepEqual(signingSecrets(rotated, later(3_000)), ["whsec_new"]);
    assert.deepEqual(signingSecrets(rotatedSubscription(rotated, "whsec_3rd", later(1), 0), later(1)), ["whsec_3rd"]);
    const twice = rotatedSubscription(rotated, "whsec_3rd", later(1), 10_000);
    assert.deepEqual(signingSecrets(twice, later(1)), ["whsec_3rd", "whsec_new"], "the oldest ends at once");
  });

  it("is made in the store: only the host's own subscription, the rest kept", async () => {
    const store = memoryWebhooks();
    await store.addSubscription(subscription);
    assert.equal(await rotateSubscription(store, "other.test", "s1", 0), undefined);
    assert.equal(await rotateSubscription(store, "e.test", "nope", 0), undefined);
    const rotated = await rotateSubscription(store, "e.test", "s1", 3_000, T0);
    assert.match(rotated?.secret ?? "", /^whsec_[A-Za-z0-9+/]{43}=$/);
    const [stored] = await store.listSubscriptions();
    assert.deepEqual(stored, { ...rotated?.subscription });
    assert.equal(stored?.previousSecret, subscription.secret);
    assert.equal(stored?.url, subscription.url);
  });

  it("a delivery sent in the grace verifies with either secret alone (Standard Webhooks' library)", async () => {
    const got: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        got.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const secret = generateSigningSecret();
      const rotated = rotatedSubscription({ ...subscription, url }, secret, new Date(), 60_000);
      const delivery: Delivery = { id: "msg_1", subscriptionId: "s1", payload: '{"a":1}', createdAt: 0, attempts: 0 };
      assert.deepEqual(await send(rotated, delivery, 5_000), { ok: true, status: 204 });
      const ended = rotatedSubscription({ ...subscription, url }, secret, new Date(Date.now() - 60_001), 60_000);
      assert.deepEqual(await send(ended, delivery, 5_000), { ok: true, status: 204 });
      const [inGrace, afterGrace] = got as [(typeof got)[0], (typeof got)[0]];
      assert.equal(String(inGrace.headers["webhook-signature"]).split(" ").length, 2);
      for (const key of [subscription.secret, secret]) {
        assert.deepEqual(new Webhook(key).verify(inGrace.body, inGrace.headers as Record<string, string>), { a: 1 });
      }
      assert.equal(String(afterGrace.headers["webhook-signature"]).split(" ").length, 1);
      assert.ok(new Webhook(secret).verify(afterGrace.body, afterGrace.headers as Record<string, string>));
      assert.throws(() =>
        new Webhook(subscription.secret).verify(afterGrace.body, afterGrace.headers as Record<string, string>),
      );
    } finally {
      server.close();
    }
  });
});
