import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runCli, type RunningService } from "../support/service.js";
import { freshKeyStore, startServiceWithoutXmpp } from "../support/stack.js";

const HOST = "example.test";
const CLIENTS = 8;

/**
 * The service keeps key records between commits to the SQLite file (src/keys/recordCache.ts). Here
 * the CLI deletes keys while clients hammer the service with them: no request sent after the CLI's
 * `delete` returned may be let through. A GET-only key sent with POST is looked up and answered 405
 * (nothing written, no Prosody needed); once deleted, 403.
 */
describe("key records kept between commits, under load", () => {
  let service: RunningService;
  const env = { KEY_STORE: freshKeyStore() };

  before(async () => {
    service = await startServiceWithoutXmpp(env);
  });

  after(async () => {
    await service?.stop();
  });

  async function createKey(): Promise<string> {
    const made = await runCli(["create", HOST, "hammered", "--methods", "GET"], env);
    assert.equal(made.code, 0, made.stderr);
    return made.stdout.trim().split("\n").at(-1) ?? "";
  }

  const post = async (key: string) =>
    (await fetch(`${service.url}/invites_api`, { method: "POST", headers: { Authorization: `Bearer ${key}` } })).status;

  it("refuses every request sent after a CLI delete returned, while other requests are in flight", async () => {
    for (let round = 0; round < 3; round++) {
      const key = await createKey();
      const [id = ""] = key.split("/");
      let deletedAt = Infinity;
      let stop = false;
      const late: number[] = [];
      const early: number[] = [];
      const client = async () => {
        while (!stop) {
          const sentAt = performance.now();
          const status = await post(key);
          (sentAt > deletedAt ? late : early).push(status);
          if (sentAt > deletedAt && late.length > 200) stop = true;
        }
      };
      const clients = Array.from({ length: CLIENTS }, client);
      // Let the lookups be served from memory for a while first.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const deleted = await runCli(["delete", HOST, "--", id], env);
      deletedAt = performance.now();
      assert.equal(deleted.code, 0, deleted.stderr);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(clients),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("clients did not finish")), 20_000))),
      ]).finally(() => {
        stop = true;
        clearTimeout(timer);
      });
      assert.ok(early.filter((status) => status === 405).length > 50, `round ${round}: the key was served before`);
      assert.deepEqual(new Set(late), new Set([403]), `round ${round}: after the delete, only 403`);
    }
  });
});
