import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { runCli } from "../support/service.js";
import { startPostgres, type RunningServer } from "../support/servers.js";

const ROUNDS = 8;
const AT_ONCE = 4;

describe("instances starting together on a fresh PostgreSQL", () => {
  let server: RunningServer | undefined;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.dispose();
  });

  it(`all start, ${AT_ONCE} at once, on ${ROUNDS} fresh databases`, async () => {
    const admin = new pg.Client({ connectionString: server!.url });
    await admin.connect();
    try {
      for (let round = 0; round < ROUNDS; round += 1) {
        const database = `fresh_${round}`;
        await admin.query(`CREATE DATABASE ${database}`);
        const url = server!.url.replace(/\/postgres$/, `/${database}`);
        // Each CLI process opens the store as the service does: it creates the tables it needs.
        const results = await Promise.all(
          Array.from({ length: AT_ONCE }, (_, i) =>
            runCli(["create", "example.test", `round ${round} instance ${i}`], { KEY_STORE: url }),
          ),
        );
        for (const result of results) assert.equal(result.code, 0, `round ${round}: ${result.stderr}`);
        const listed = await runCli(["list", "example.test"], { KEY_STORE: url });
        assert.equal(listed.stdout.trim().split("\n").length, AT_ONCE);
      }
    } finally {
      await admin.end();
    }
  });
});
