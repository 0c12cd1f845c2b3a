import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MANAGE_MODULES, type RunningProsody } from "../support/prosody.js";
import type { RunningService } from "../support/service.js";
import { createKey, startStack, type RunningStack } from "../support/stack.js";
import { login, registerWithInvite } from "../support/xmppClient.js";
import type { InviteJson } from "../../src/http/invitesResource.js";

// Registrations through invites the service may not see (an admin's own) are examined a bounded
// number of times (issue 26, point 2): the sync's cursor moves past them, and a history page
// examines at most 2 × (limit + 1) items however many there are. Counted from the module's debug
// lines ("Registration records: N examined", "History page (used): N items examined").
const HOST = "unseen.test";
const COMPONENT = { domain: "invites.unseen.test", secret: "unseen-secret" };
const MANAGE_NODE = "xmpp:invites-api/mod_invites_manage#create-account";
/** Registrations through the admin's own invites. */
const UNSEEN = 60;
/** Registrations, and invites made, in flight at once. */
const CONCURRENCY = 8;

const FEED_LINE = /Registration records: (\d+) examined, (\d+) kept/g;
const PAGE_LINE = /History page \(used\): (\d+) items examined, (\d+) kept/g;

/** The examined counts of the lines `pattern` finds in `log`. */
const examined = (log: string, pattern: RegExp) => Array.from(log.matchAll(pattern), (m) => Number(m[1]));

async function parallel(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

for (const storage of ["sql", "internal"] as const) {
  describe(`records the service may not see, on Prosody's ${storage} storage`, () => {
    let stack: RunningStack | undefined;
    let prosody: RunningProsody;
    let service: RunningService;
    let key: string;
    let registered = 0;
    /** The service's invites used so far. */
    const used: string[] = [];

    before(async () => {
      stack = await startStack(
        {
          hosts: [HOST],
          components: [COMPONENT],
          admins: [],
          storage,
          hostOptions: { [HOST]: { modules: MANAGE_MODULES, admins: [`root@${HOST}`] } },
          extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
        },
        { component: COMPONENT },
      );
      ({ prosody, service } = stack);
      key = await createKey(stack.keyStore, HOST, "manage", "--scope", "manage");
      prosody.ctl(["register", "root", HOST, "root-password-1"]);
    });
    after(() => stack?.stop());

    const register = (token: string, username: string) =>
      registerWithInvite({ port: prosody.c2sPort, domain: HOST, token, username, password: `${username}-password-1` });

    /** An account registered through an invite of the service's. */
    async function registerSeen(username: string): Promise<void> {
      const res = await fetch(`${service.url}/invites/account`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: "{}",
      });
      assert.equal(res.status, 201);
      const { id } = (await res.json()) as InviteJson;
      await register(id, username);
      used.push(id);
    }

    /** `count` accounts registered through the admin's own invites, made with his ad-hoc command. */
    async function registerUnseen(count: number): Promise<void> {
      const root = await login({ port: prosody.c2sPort, domain: HOST, username: "root", password: "root-password-1" });
      const tokens: string[] = [];
      try {
        for (let i = 0; i < count; i += 1) {
          const made = await root.execute(HOST, MANAGE_NODE, {});
          tokens.push(made.fields.get("id")?.[0] ?? "");
        }
      } finally {
        await root.close();
      }
      const first = registered;
      registered += count;
      await parallel(count, (i) => register(tokens[i] ?? "", `unseen${first + i}`));
    }

    async function redeemed(): Promise<number> {
      const text = await (await fetch(`${service.url}/metrics`)).text();
      const prefix = `invites_api_invites_redeemed_total{host="${HOST}",type="account"}`;
      const line = text.split("\n").find((l) => l.startsWith(prefix));
      return line ? Number(line.split(" ").at(-1)) : 0;
    }

    /** Waits until the service counted `want` registrations and read no record for a second and a half. */
    async function settled(want: number): Promise<void> {
      const deadline = Date.now() + 30_000;
      let lines = -1;
      let quietSince = Date.now();
      for (;;) {
        const now = examined(prosody.log(), FEED_LINE).length;
        if (now !== lines) [lines, quietSince] = [now, Date.now()];
        if ((await redeemed()) === want && Date.now() - quietSince > 1_500) return;
        assert.ok(Date.now() < deadline, `the service counted ${await redeemed()} registrations, not ${want}`);
        await sleep(100);
      }
    }

    it("the sync examines each of an admin's own registrations once: the next pass reads none again", async () => {
      await registerSeen("seen0");
      await settled(1);
      await registerUnseen(UNSEEN);
      await settled(1);

      // One more of the admin's: its nudge starts a pass, which examines only that one.
      let from = prosody.log().length;
      await registerUnseen(1);
      const deadline = Date.now() + 15_000;
      while (examined(prosody.log().slice(from), FEED_LINE).length === 0) {
        assert.ok(Date.now() < deadline, "no pass after the registration");
        await sleep(100);
      }
      await settled(1);
      const read = examined(prosody.log().slice(from), FEED_LINE);
      assert.ok(
        read.reduce((a, b) => a + b, 0) <= 2,
        `a pass after ${UNSEEN} of the admin's registrations examined ${read.join(" + ")} records`,
      );

      // The service's own are still counted, each once.
      from = prosody.log().length;
      await registerSeen("seen1");
      await settled(2);
      const next = examined(prosody.log().slice(from), FEED_LINE);
      assert.ok(next.reduce((a, b) => a + b, 0) <= 2, `the next pass examined ${next.join(" + ")} records`);
    });

    it("history pages: the service's used invites, each page examining at most 2 × (limit + 1) items", async () => {
      // Used invites of the service's among the admin's: 2 made after the admin's, more between.
      for (let i = 0; i < 3; i += 1) {
        await registerSeen(`seen-between${i}`);
        await registerUnseen(50);
      }
      const limit = 10;
      const from = prosody.log().length;
      const seen: string[] = [];
      let path: string | undefined = `/invites?state=used&limit=${limit}`;
      let pages = 0;
      while (path) {
        const res: Response = await fetch(`${service.url}${path}`, { headers: { Authorization: `Bearer ${key}` } });
        assert.equal(res.status, 200);
        const page = (await res.json()) as InviteJson[];
        assert.ok(page.length <= limit);
        seen.push(...page.map((invite) => invite.id));
        path = /^<([^>]+)>; rel="next"$/.exec(res.headers.get("Link") ?? "")?.[1];
        pages += 1;
        assert.ok(pages < 200, "the pages never end");
      }
      // Every one of the service's, once.
      assert.deepEqual([...seen].sort(), [...used].sort());
      const perPage = examined(prosody.log().slice(from), PAGE_LINE);
      assert.equal(perPage.length, pages);
      assert.ok(
        perPage.every((n) => n <= 2 * (limit + 1)),
        `pages among ${registered} of the admin's used invites examined ${perPage.join(", ")} items`,
      );
      // Every item examined once on the walk, give or take the one each page looks ahead.
      assert.ok(perPage.reduce((a, b) => a + b, 0) <= registered + used.length + pages);

      // A first page asked for again and again costs the same each time.
      const again = prosody.log().length;
      for (let i = 0; i < 5; i += 1) {
        const res = await fetch(`${service.url}/invites?state=used&limit=${limit}`, {
          headers: { Authorization: `Bearer ${key}` },
        });
        assert.equal(res.status, 200);
      }
      const firstPages = examined(prosody.log().slice(again), PAGE_LINE);
      assert.ok(firstPages.length === 5 && firstPages.every((n) => n <= 2 * (limit + 1)), firstPages.join(", "));
    });
  });
}
