import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { InviteJson } from "../../src/http/invitesResource.js";
import { parsePeoplePolicy } from "../../src/people/policy.js";
import {
  callAs,
  CIRCLES_COMPONENT,
  CIRCLES_HOST as HOST,
  startCirclesProsody,
  startPeopleApp,
  type CallAs,
  type PeopleApp,
} from "../support/peopleApp.js";
import type { RunningProsody } from "../support/prosody.js";
import { freshKeyStore } from "../support/stack.js";

// Issue 29: 10,000 random requests from three principals confined to different circles (two keys
// made with --groups, one person named manager) find 0 reads or changes across circles, in the
// answers and in Prosody's own state at the end. PROPERTY_SEED replays a run; PROPERTY_REQUESTS
// changes its length.
const REQUESTS = Number(process.env.PROPERTY_REQUESTS ?? 10_000);
const SEED = Number(process.env.PROPERTY_SEED ?? randomInt(2 ** 31));
const CAT = `cat@${HOST}`;
const PRINCIPALS = [
  { who: "key-a", circle: "team-a" },
  { who: "key-b", circle: "team-b" },
  { who: CAT, circle: "team-c" },
] as const;
type Who = (typeof PRINCIPALS)[number]["who"];

/** mulberry32: a small seeded PRNG, so that a failing run can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Lanes per principal, side by side: each lane's requests one after another. A lane changes only
 * its own invites (and tries other principals'), never a sibling lane's, so that what each of its
 * requests must answer is exact.
 */
const LANES = 4;

interface Known {
  readonly owner: Who;
  readonly lane: string;
  state: "pending" | "revoked";
  note: string | null;
}

describe("circles: 10,000 random requests, 0 crossings", () => {
  let prosody: RunningProsody;
  let app: PeopleApp;
  let call: CallAs;
  const secrets: Record<string, string> = {};

  before(async () => {
    // Prosody writes its SQLite storage at every change, thousands of times here: on tmpfs where
    // there is one, its fsyncs cost nothing (startProsody makes its folder under os.tmpdir()).
    const tmp = process.env.TMPDIR;
    if (existsSync("/dev/shm")) process.env.TMPDIR = "/dev/shm";
    try {
      prosody = await startCirclesProsody({ accounts: ["cat"] });
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
    app = await startPeopleApp({
      prosody,
      component: CIRCLES_COMPONENT,
      keyStore: freshKeyStore(),
      // cat's role (an ordinary account's) gives nothing: all cat may do comes from managing team-c.
      policy: parsePeoplePolicy(
        JSON.stringify({
          "*": { roles: { "prosody:admin": { scopes: ["manage"] } }, managers: { [CAT]: ["team-c"] } },
        }),
      ),
      roles: {},
      // cat comes through the service's own session gate, its role asked of Prosody.
      sessions: true,
    });
    secrets["key-a"] = (await app.keys.create(HOST, { scopes: ["manage"], groups: ["team-a"] })).key;
    secrets["key-b"] = (await app.keys.create(HOST, { scopes: ["manage"], groups: ["team-b"] })).key;
    secrets.root = (await app.keys.create(HOST, { scopes: ["manage"] })).key;
    call = callAs(app, secrets);
  });
  after(async () => {
    await app?.stop();
    await prosody?.dispose();
  });

  it("no principal reads or changes another circle's invite; Prosody's state agrees", async (t) => {
    t.diagnostic(`seed ${SEED} (PROPERTY_SEED=${SEED} replays its plan), ${REQUESTS} requests`);
    const random = prng(SEED);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const known = new Map<string, Known>();
    const ids: string[] = [];
    const laneIds = new Map<string, string[]>();
    const listedEarly: Array<{ id: string; who: Who }> = [];
    const crossings: string[] = [];
    const wrong: string[] = [];
    const counts: Record<string, number> = {};

    // The plan is drawn up front from the seed alone (the lanes' interleaving varies from run to run).
    const plan = Array.from({ length: REQUESTS }, () => {
      const principal = pick(PRINCIPALS);
      return {
        principal,
        lane: `${principal.who}#${Math.floor(random() * LANES)}`,
        op: pick(["create", "create", "list", "show", "show", "show", "revoke", "revoke", "update", "update"] as const),
        other: pick(PRINCIPALS.filter((p) => p.circle !== principal.circle)).circle,
        roll: random(),
        roll2: random(),
        roll3: random(),
      };
    });

    const took: Record<string, number> = {};
    async function one(step: (typeof plan)[number]): Promise<void> {
      const at = performance.now();
      await oneStep(step);
      took[step.op] = (took[step.op] ?? 0) + performance.now() - at;
    }
    async function oneStep(step: (typeof plan)[number]): Promise<void> {
      const { principal, lane, op, other, roll, roll2, roll3 } = step;
      const { who, circle } = principal;
      counts[op] = (counts[op] ?? 0) + 1;
      // Its own lane's invites, any other principal's, or an id nobody has.
      const own = laneIds.get(lane) ?? [];
      const anyone = ids[Math.floor(roll2 * ids.length)];
      const target =
        roll3 < 0.45 && own.length > 0
          ? (own[Math.floor(roll2 * own.length)] as string)
          : roll3 < 0.9 && anyone !== undefined && known.get(anyone)?.owner !== who
            ? anyone
            : `fake${Math.floor(roll * 1e9).toString(36)}xyzxyzxyz`;
      const mine = known.get(target)?.owner === who;
      const crossed = (what: string, status: number) => {
        if (status < 300 && !mine)
          crossings.push(`${what} by ${who} of ${known.get(target)?.owner ?? "nobody"}'s: ${status}`);
      };
      switch (op) {
        case "create": {
          const outside = roll < 0.1;
          const [path, body] =
            roll2 < 0.5
              ? ["/invites/account", outside ? { groups: [other] } : {}]
              : ["/invites/group", { groups: [outside ? other : circle] }];
          const res = await call(who, "POST", path, body);
          if (outside) {
            if (res.status !== 400) crossings.push(`${who} made an invite into ${other}: ${res.status}`);
            await res.body?.cancel();
            return;
          }
          if (res.status !== 201) return void wrong.push(`create by ${who}: ${res.status} ${await res.text()}`);
          const invite = (await res.json()) as InviteJson;
          if (invite.groups.join() !== circle) crossings.push(`${who} made an invite in ${invite.groups.join()}`);
          known.set(invite.id, { owner: who, lane, state: "pending", note: null });
          ids.push(invite.id);
          laneIds.set(lane, [...own, invite.id]);
          return;
        }
        case "list": {
          const res = await call(who, "GET", `/invites?limit=${1 + Math.floor(roll * 60)}`);
          if (res.status !== 200) return void wrong.push(`list by ${who}: ${res.status}`);
          for (const invite of (await res.json()) as InviteJson[]) {
            const owner = known.get(invite.id)?.owner;
            if (invite.groups.join() !== circle || (owner !== undefined && owner !== who)) {
              crossings.push(`list by ${who} shows ${owner ?? "an unknown"}'s invite in ${invite.groups.join()}`);
            }
            // One a sibling lane made, whose answer has not come back yet: checked at the end.
            if (owner === undefined) listedEarly.push({ id: invite.id, who });
          }
          return;
        }
        case "show": {
          const res = await call(who, "GET", `/invites/${target}`);
          crossed("show", res.status);
          const expected = mine ? 200 : 404;
          if (res.status !== expected) wrong.push(`show by ${who}: ${res.status}, expected ${expected}`);
          if (res.status === 200 && mine) {
            const invite = (await res.json()) as InviteJson;
            if (invite.state !== known.get(target)?.state) wrong.push(`show by ${who}: state ${invite.state}`);
          } else await res.body?.cancel();
          return;
        }
        case "revoke": {
          const res = await call(who, "DELETE", `/invites/${target}`);
          crossed("revoke", res.status);
          const entry = known.get(target);
          const expected = mine && entry?.state === "pending" ? 204 : 404;
          if (res.status !== expected) wrong.push(`revoke by ${who}: ${res.status}, expected ${expected}`);
          if (res.status === 204 && mine && entry) entry.state = "revoked";
          await res.body?.cancel();
          return;
        }
        case "update": {
          const note = `${who} ${Math.floor(roll * 1e6)}`;
          const res = await call(who, "PATCH", `/invites/${target}`, { note });
          crossed("update", res.status);
          const entry = known.get(target);
          const expected = mine && entry?.state === "pending" ? 200 : 404;
          if (res.status !== expected) wrong.push(`update by ${who}: ${res.status}, expected ${expected}`);
          if (res.status === 200 && mine && entry) entry.note = note;
          await res.body?.cancel();
          return;
        }
      }
    }

    const started = Date.now();
    const lanes = new Set(plan.map((step) => step.lane));
    await Promise.all(
      [...lanes].map(async (lane) => {
        for (const step of plan) if (step.lane === lane) await one(step);
      }),
    );
    t.diagnostic(
      `${REQUESTS} requests in ${Date.now() - started} ms, ${lanes.size} lanes: ${JSON.stringify(counts)}, ` +
        `${ids.length} invites; ms per request: ${JSON.stringify(
          Object.fromEntries(Object.entries(took).map(([op, ms]) => [op, Math.round(ms / (counts[op] ?? 1))])),
        )}`,
    );
    for (const { id, who } of listedEarly) {
      const owner = known.get(id)?.owner;
      if (owner !== who) crossings.push(`list by ${who} showed ${owner ?? "nobody"}'s invite`);
    }
    assert.deepEqual(crossings, [], `seed ${SEED}: ${crossings.length} crossings`);
    assert.deepEqual(wrong.slice(0, 20), [], `seed ${SEED}: ${wrong.length} answers not as expected`);

    // Prosody's own state, read with an unconfined key: every invite as its owner alone left it.
    const seen = new Map<string, InviteJson>();
    for (const state of ["pending", "revoked"]) {
      let path: string | undefined = `/invites?state=${state}&limit=200`;
      while (path) {
        const res = await call("root", "GET", path);
        assert.equal(res.status, 200);
        for (const invite of (await res.json()) as InviteJson[]) seen.set(invite.id, invite);
        path = /<([^>]+)>; rel="next"/.exec(res.headers.get("link") ?? "")?.[1];
      }
    }
    const drift: string[] = [];
    for (const [id, entry] of known) {
      const invite = seen.get(id);
      if (invite?.state !== entry.state)
        drift.push(`${entry.owner}'s invite is ${invite?.state ?? "missing"}, not ${entry.state}`);
      if (invite && invite.note !== entry.note) drift.push(`${entry.owner}'s invite has note ${invite.note ?? "none"}`);
      const circle = PRINCIPALS.find((p) => p.who === entry.owner)?.circle;
      if (invite && invite.groups.join() !== circle)
        drift.push(`${entry.owner}'s invite is in ${invite.groups.join()}`);
    }
    assert.deepEqual(drift.slice(0, 20), [], `seed ${SEED}: ${drift.length} invites not as their owners left them`);

    // Paging within circles, followed by the links, gives each of the caller's invites once.
    for (const { who } of PRINCIPALS) {
      for (const state of ["pending", "revoked"] as const) {
        const expected = [...known].filter(([, e]) => e.owner === who && e.state === state).map(([id]) => id);
        await assertPages(call, who, state, 25, expected);
      }
    }
  });
});

/** Follows a confined caller's pages of `limit` to the end: each of `expected` once, nothing else. */
async function assertPages(call: CallAs, who: string, state: string, limit: number, expected: readonly string[]) {
  const listed: string[] = [];
  let path: string | undefined = `/invites?state=${state}&limit=${limit}`;
  let pages = 0;
  while (path) {
    const res = await call(who, "GET", path);
    assert.equal(res.status, 200);
    listed.push(...((await res.json()) as InviteJson[]).map((invite) => invite.id));
    path = /<([^>]+)>; rel="next"/.exec(res.headers.get("link") ?? "")?.[1];
    pages += 1;
  }
  assert.equal(new Set(listed).size, listed.length, `${who}'s ${state} pages repeat an invite`);
  assert.deepEqual([...listed].sort(), [...expected].sort(), `${who}'s ${state} invites, in ${pages} pages`);
}

describe("paging within circles", () => {
  let prosody: RunningProsody;
  let app: PeopleApp;

  before(async () => {
    prosody = await startCirclesProsody();
    app = await startPeopleApp({
      prosody,
      component: CIRCLES_COMPONENT,
      keyStore: freshKeyStore(),
      policy: parsePeoplePolicy(JSON.stringify({ "*": { managers: { [CAT]: ["team-c"] } } })),
      roles: { [CAT]: "prosody:guest" },
    });
  });
  after(async () => {
    await app?.stop();
    await prosody?.dispose();
  });

  it("small pages of interleaved circles, pending and revoked: each invite once, none of another circle", async () => {
    const secrets = {
      "key-a": (await app.keys.create(HOST, { scopes: ["manage"], groups: ["team-a"] })).key,
      "key-b": (await app.keys.create(HOST, { scopes: ["manage"], groups: ["team-b"] })).key,
    };
    const call = callAs(app, secrets);
    const made = new Map<string, { pending: string[]; revoked: string[] }>(
      PRINCIPALS.map(({ who }) => [who, { pending: [], revoked: [] }]),
    );
    // 3 circles' invites interleaved unevenly (a, a, b, c, a, …), a third of them revoked.
    for (let i = 0; i < 90; i++) {
      const { who } = PRINCIPALS[[0, 0, 1, 2, 0, 1][i % 6] as number] as (typeof PRINCIPALS)[number];
      const res = await call(who, "POST", "/invites/account", {});
      assert.equal(res.status, 201);
      const { id } = (await res.json()) as InviteJson;
      const mine = made.get(who) as { pending: string[]; revoked: string[] };
      if (i % 3 === 0) {
        assert.equal((await call(who, "DELETE", `/invites/${id}`)).status, 204);
        mine.revoked.push(id);
      } else mine.pending.push(id);
    }
    for (const [who, { pending, revoked }] of made) {
      for (const limit of [1, 4, 7]) {
        await assertPages(call, who, "pending", limit, pending);
        await assertPages(call, who, "revoked", limit, revoked);
      }
    }
  });
});
