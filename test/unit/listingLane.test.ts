import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { InviteManager, ManagedInvite, PageRequest } from "../../src/xmpp/inviteManager.js";
import { laneListing } from "../../src/xmpp/listingLane.js";

const invite = (id: string) => ({ id }) as ManagedInvite;

/**
 * A module's list over `ids` (cursor: the last id given), taking `ms` per command; `hidden` ids are
 * examined but not shown, as the history hides other people's invites: a page then stops short
 * with `next`. Records every call, and how many ran at once per host.
 */
function fakeList(ids: readonly string[], opts: { ms?: number; hidden?: ReadonlySet<string> } = {}) {
  const calls: Array<{ host: string; page: PageRequest; started: number; ended: number }> = [];
  const running = new Map<string, number>();
  let mostAtOnce = 0;
  const list = async (host: string, page: PageRequest) => {
    running.set(host, (running.get(host) ?? 0) + 1);
    mostAtOnce = Math.max(mostAtOnce, running.get(host) ?? 0);
    const started = performance.now();
    await sleep(opts.ms ?? 0);
    running.set(host, (running.get(host) ?? 1) - 1);
    let i = page.after ? ids.indexOf(page.after) + 1 : 0;
    const shown: string[] = [];
    let examined = 0;
    for (; i < ids.length && shown.length < page.limit && examined < page.limit; i += 1, examined += 1) {
      const id = ids[i] ?? "";
      if (!opts.hidden?.has(id)) shown.push(id);
    }
    const last = ids[i - 1];
    calls.push({ host, page, started, ended: performance.now() });
    return { invites: shown.map(invite), ...(i < ids.length && last ? { next: last } : {}) };
  };
  return { manager: { list } as unknown as InviteManager, calls, mostAtOnce: () => mostAtOnce };
}

const ids = (n: number, prefix = "i") => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`);

describe("laneListing: a page in chunks, one command per host at a time, a pause after each", () => {
  it("a page of 60 at chunk 25 is three commands of 25, 25 and 10, each after the last's cursor", async () => {
    const all = ids(100);
    const fake = fakeList(all);
    const page = await laneListing(fake.manager, { chunk: 25, pause: 0 }).list("h", { limit: 60 });
    assert.deepEqual(
      page.invites.map((i) => i.id),
      all.slice(0, 60),
    );
    assert.equal(page.next, all[59]);
    assert.deepEqual(
      fake.calls.map((c) => [c.page.limit, c.page.after]),
      [
        [25, undefined],
        [25, all[24]],
        [10, all[49]],
      ],
    );
  });

  it("the last page has no next, and a page past it none either", async () => {
    const all = ids(30);
    const lane = laneListing(fakeList(all).manager, { chunk: 25, pause: 0 });
    const page = await lane.list("h", { limit: 50 });
    assert.equal(page.invites.length, 30);
    assert.equal(page.next, undefined);
  });

  it("a history page that stops short examines no more than one command for `limit` would", async () => {
    const all = ids(200);
    const fake = fakeList(all, { hidden: new Set(all.slice(0, 150)) });
    const page = await laneListing(fake.manager, { chunk: 25, pause: 0 }).list("h", { limit: 50, state: "used" });
    assert.equal(fake.calls.length, 2, "two commands for a page of 50, however short they come back");
    assert.equal(page.invites.length, 0);
    assert.equal(page.next, all[49], "next: the last record examined, so the walk goes on");
    assert.ok(fake.calls.every((c) => c.page.state === "used"));
  });

  it("one list command per host at a time, hosts side by side, with a pause after each as long as it took", async () => {
    const fake = fakeList(ids(100), { ms: 40 });
    const lane = laneListing(fake.manager, { chunk: 25, pause: 1 });
    await Promise.all([
      lane.list("a", { limit: 50 }),
      lane.list("a", { limit: 50 }),
      lane.list("b", { limit: 25 }),
      lane.list("b", { limit: 25 }),
    ]);
    assert.equal(fake.mostAtOnce(), 1, "never two commands to one host at once");
    for (const host of ["a", "b"]) {
      const mine = fake.calls.filter((c) => c.host === host).sort((x, y) => x.started - y.started);
      for (let i = 1; i < mine.length; i += 1) {
        const previous = mine[i - 1];
        const took = (previous?.ended ?? 0) - (previous?.started ?? 0);
        const gap = (mine[i]?.started ?? 0) - (previous?.ended ?? 0);
        assert.ok(
          gap >= took - 2,
          `${host}: the lane stayed shut ${gap.toFixed(1)} ms after a ${took.toFixed(1)} ms command`,
        );
      }
    }
    const first = (host: string) => Math.min(...fake.calls.filter((c) => c.host === host).map((c) => c.started));
    assert.ok(Math.abs(first("a") - first("b")) < 30, "another host's lane does not wait for this one");
  });

  it("a failed command fails its page and leaves the lane open", async () => {
    let fail = true;
    const manager = {
      list: async () => {
        if (fail) {
          fail = false;
          throw new Error("Prosody did not answer");
        }
        return { invites: [invite("x")] };
      },
    } as unknown as InviteManager;
    const lane = laneListing(manager, { chunk: 25, pause: 0 });
    await assert.rejects(lane.list("h", { limit: 10 }), /did not answer/);
    assert.deepEqual((await lane.list("h", { limit: 10 })).invites, [invite("x")]);
  });
});
