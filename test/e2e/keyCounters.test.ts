import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createKeyStore, type KeyStore } from "../../src/keys/keyStore.js";
import { openStore } from "../../src/store/open.js";
import type { ServiceStore } from "../../src/store/store.js";
import { startPostgres, startRedis, type RunningServer } from "../support/servers.js";
import { freshKeyStore } from "../support/stack.js";

const HOST = "example.test";
const TRIALS = 20;

interface Store {
  readonly url: string;
  dispose(): Promise<void>;
}

/** Two independent connections to one store: two instances, or the service and the CLI. */
async function twoStores(url: string): Promise<{ a: KeyStore; b: KeyStore; close(): Promise<void> }> {
  const opened: ServiceStore[] = [];
  try {
    opened.push(await openStore(url));
    opened.push(await openStore(url));
  } catch (err) {
    await Promise.all(opened.map((backend) => backend.close()));
    throw err;
  }
  const [first, second] = opened as [ServiceStore, ServiceStore];
  return {
    a: createKeyStore(first.keyRecords, first.usage),
    b: createKeyStore(second.keyRecords, second.usage),
    close: async () => {
      await Promise.all(opened.map((backend) => backend.close()));
    },
  };
}

const kinds: Array<[string, () => Promise<Store>]> = [
  ["sqlite", async () => ({ url: freshKeyStore(), dispose: async () => {} })],
  ["redis", (): Promise<RunningServer> => startRedis()],
  ["postgres", (): Promise<RunningServer> => startPostgres()],
];

for (const [kind, startStore] of kinds) {
  describe(`usage counters in ${kind}`, () => {
    let store: Store | undefined;
    let stores: Awaited<ReturnType<typeof twoStores>> | undefined;
    before(async () => {
      store = await startStore();
      stores = await twoStores(store.url);
    });
    after(async () => {
      await stores?.close();
      await store?.dispose();
    });

    it(`a delete from another connection is final while invites are counted (${TRIALS} trials)`, async () => {
      const { a, b } = stores!;
      for (let trial = 0; trial < TRIALS; trial += 1) {
        const quota = await a.create(HOST, { name: `quota ${trial}`, maxInvites: 1_000_000 });
        const plain = await a.create(HOST, { name: `plain ${trial}` });
        let deleted = false;
        // Counting on A, as the service does under load, until well after B's delete has landed.
        const counting = (async () => {
          let rounds = 0;
          while (!deleted || rounds < 5) {
            rounds += 1;
            // Each round is its own event, as each request is in the service (a synchronous store
            // would otherwise never let B's delete run).
            await new Promise((resolve) => setImmediate(resolve));
            const reserved = await a.reserveInvite(quota.info.id, 1_000_000, new Date());
            if (reserved === "reserved" && rounds % 3 === 0) await a.releaseInvite(quota.info.id);
            a.recordInvite(plain.info.id, new Date());
            if (rounds % 2 === 0) await a.flush();
          }
          await a.flush();
        })();
        await new Promise((resolve) => setTimeout(resolve, 5 + (trial % 7)));
        await b.delete(HOST, quota.info.id);
        await b.delete(HOST, plain.info.id);
        deleted = true;
        await counting;
        for (const view of [a, b]) {
          assert.equal(await view.get(HOST, quota.info.id), undefined, `trial ${trial}: the quota key came back`);
          assert.equal(await view.get(HOST, plain.info.id), undefined, `trial ${trial}: the plain key came back`);
          assert.equal(await view.getRecord(quota.info.id), undefined);
        }
        assert.equal(await a.reserveInvite(quota.info.id, 1_000_000, new Date()), "gone");
      }
    });

    it("max-invites is exact when two connections count at once", async () => {
      const { a, b } = stores!;
      const { info } = await a.create(HOST, { maxInvites: 25 });
      const results = await Promise.all(
        Array.from({ length: 80 }, (_, i) => (i % 2 ? a : b).reserveInvite(info.id, 25, new Date())),
      );
      assert.equal(results.filter((r) => r === "reserved").length, 25);
      assert.equal(results.filter((r) => r === "exhausted").length, 55);
      assert.equal((await b.get(HOST, info.id))?.invitesIssued, 25);
      // A reservation given back can be used once more, and only once.
      await a.releaseInvite(info.id);
      const again = await Promise.all([
        a.reserveInvite(info.id, 25, new Date()),
        b.reserveInvite(info.id, 25, new Date()),
      ]);
      assert.deepEqual(again.sort(), ["exhausted", "reserved"]);
    });

    it("batched usage from two connections adds up, and shows in get and list", async () => {
      const { a, b } = stores!;
      const { info } = await a.create(HOST, { name: "batched" });
      for (let i = 0; i < 30; i += 1) (i % 2 ? a : b).recordInvite(info.id, new Date());
      await Promise.all([a.flush(), b.flush()]);
      assert.equal((await a.get(HOST, info.id))?.invitesIssued, 30);
      const listed = (await b.list(HOST)).find((key) => key.id === info.id);
      assert.equal(listed?.invitesIssued, 30);
      assert.match(listed?.lastUsedAt ?? "", /^\d{4}-\d\d-\d\dT/);
    });
  });
}
