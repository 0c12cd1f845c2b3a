// Issue 26.2: what a /metrics scrape costs with a full webhook outbox. The service (built, from
// dist/, no XMPP) on a SQLite key store whose outbox holds N deliveries (bulk-inserted, due far in
// the future, so the deliverer leaves them); per N, 50 scrapes one after another, then a bystander's
// /health timed while 4 scrapers scrape in a loop. Prints figures; asserts only the backlog's count.
//   npm run build && node --import tsx scripts/bench/metricsBacklog.ts [N ...]   (default 0 200000 1000000)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { openStore } from "../../src/store/open.js";
import { startServiceWithoutXmpp } from "../../test/support/stack.js";
import { fmt, percentile } from "./measure.js";

const OUTBOX = "invites_api_webhook_outbox";

async function fill(keyStore: string, n: number): Promise<void> {
  // Opened through the service's code first: its schema (and, where there are, its triggers).
  await (await openStore(keyStore)).close();
  const db = new Database(keyStore);
  const insert = db.prepare(
    `INSERT INTO ${OUTBOX} (id, subscription, payload, created_at, attempts, due_at) VALUES (?, 'bench', '{}', ?, 0, ?)`,
  );
  const start = Date.now() - 3_600_000;
  db.transaction(() => {
    for (let i = 0; i < n; i += 1) insert.run(`d${i}`, start + i, 9e15);
  })();
  db.close();
}

async function timed(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  await res.text();
  return performance.now() - started;
}

async function scrapeFigures(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "invites-api-metrics-"));
  const keyStore = join(dir, "keys.sqlite");
  try {
    const filled = performance.now();
    await fill(keyStore, n);
    const fillMs = performance.now() - filled;
    const service = await startServiceWithoutXmpp({ KEY_STORE: keyStore, WEBHOOK_POLL_MS: "1000" });
    try {
      const body = await (await fetch(`${service.url}/metrics`)).text();
      const count = /^invites_api_webhook_backlog (\d+)/m.exec(body)?.[1];
      if (Number(count) !== n) throw new Error(`backlog ${count}, expected ${n}`);
      const alone: number[] = [];
      for (let i = 0; i < 50; i += 1) alone.push(await timed(`${service.url}/metrics`));
      alone.sort((a, b) => a - b);
      // Four scrapers at once, for 3 s; a bystander's /health one after another meanwhile.
      let scraping = true;
      const scrapers = Array.from({ length: 4 }, async () => {
        while (scraping) await timed(`${service.url}/metrics`);
      });
      const bystander: number[] = [];
      const until = performance.now() + 3_000;
      while (performance.now() < until) bystander.push(await timed(`${service.url}/health`));
      scraping = false;
      await Promise.all(scrapers);
      bystander.sort((a, b) => a - b);
      console.log(
        [
          `${String(n).padStart(9)} queued`,
          `(filled in ${fmt(fillMs / 1_000, 1)} s)`,
          `scrape p50 ${fmt(percentile(alone, 0.5), 2)} ms, p99 ${fmt(percentile(alone, 0.99), 2)} ms`,
          `| /health beside 4 scrapers: p50 ${fmt(percentile(bystander, 0.5), 2)} ms, p99 ${fmt(percentile(bystander, 0.99), 2)} ms`,
        ].join("  "),
      );
    } finally {
      await service.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sizes = process.argv.slice(2).map(Number);
for (const n of sizes.length ? sizes : [0, 200_000, 1_000_000]) await scrapeFigures(n);
