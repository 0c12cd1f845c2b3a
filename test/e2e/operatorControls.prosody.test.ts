import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AppError } from "../../src/errors.js";
import type { ComponentConnection } from "../../src/xmpp/connection.js";
import type { RedemptionRecord } from "../../src/xmpp/inviteManager.js";
import { recordSecret } from "../support/handedOut.js";
import { connectModuleClients } from "../support/moduleClients.js";
import { registerOpenly } from "../support/openRegistration.js";
import { MANAGE_MODULES, mostWritesHeldAtOnce, startProsody, type RunningProsody } from "../support/prosody.js";
import { login, registerWithInvite, RegistrationError } from "../support/xmppClient.js";

// The operator's controls (issue 30) in mod_invites_manage, against a real Prosody: the host's
// registration budget and pause, enforced on every path a registration takes (in-band through an
// account or group invite, the invite page's redeem, open in-band registration); a pending
// invite's upkeep; the caller's ref; the feed's new kinds. Driven over a component connection of
// the test's own, through src/xmpp's clients of the module, as the service drives them.
const HOST = "ops.test";
const COMPONENT = { domain: "invites.ops.test", secret: "ops-component-secret" };
const MAX_TTL = 86_400;
const MANAGE = "xmpp:invites-api/mod_invites_manage#";
const PAUSED = "registrations are paused";
const USED_UP = /^the registration budget is used up until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const ACTOR = "invites-api/test-key";

const password = (name: string) => {
  const chosen = `${name}-pw-${Math.random().toString(36).slice(2, 10)}`;
  recordSecret("account password", chosen);
  return chosen;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => Math.floor(Date.now() / 1_000);

const appError = (expected: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, expected, err.message);
  if (message) assert.match(err.message, message);
  return true;
};
const refusedWith = (condition: string, text: RegExp | string) => (err: unknown) => {
  assert.ok(err instanceof RegistrationError, String(err));
  assert.equal(err.condition, condition, err.message);
  if (typeof text === "string") assert.equal(err.text, text);
  else assert.match(err.text ?? "", text);
  return true;
};

describe("the registration budget, the pause and an invite's upkeep, against a real Prosody", () => {
  let prosody: RunningProsody | undefined;
  let connection: ComponentConnection | undefined;
  let clients: Omit<Awaited<ReturnType<typeof connectModuleClients>>, "connection">;
  let feedCursor: string | undefined;

  before(async () => {
    prosody = await startProsody({
      hosts: [HOST],
      components: [COMPONENT],
      admins: [],
      hostOptions: {
        [HOST]: {
          modules: MANAGE_MODULES,
          admins: [`root@${HOST}`],
          lines: ["allow_registration = true", "registration_invite_only = false"],
        },
      },
      // Registrations overlap between user-registering and user-registered, as with a backend on the
      // network; the budget's own store waits too.
      storeDrivers: { accounts: "yielding", invites_manage_budget: "yielding" },
      extra: [
        `invites_manage_jids = { "${COMPONENT.domain}" }`,
        `invites_manage_groups = { team = "Team" }`,
        `invites_manage_max_ttl = ${MAX_TTL}`,
        "storage_yielding_delay = 0.05",
      ].join("\n"),
    });
    prosody.ctl(["register", "root", HOST, "root-password-1"]);
    prosody.ctl(["register", "taken", HOST, "taken-password-1"]);
    ({ connection, ...clients } = await connectModuleClients(prosody, COMPONENT));
  });
  after(async () => {
    await connection?.stop();
    await prosody?.dispose();
  });

  const port = () => prosody?.c2sPort ?? 0;
  const inBand = (token: string, username: string) =>
    registerWithInvite({
      port: port(),
      domain: HOST,
      token,
      username,
      password: password(username),
      timeoutMs: 30_000,
    });
  const openly = (username: string) =>
    registerOpenly({ port: port(), domain: HOST, username, password: password(username), timeoutMs: 30_000 });
  const redeem = (token: string, username: string) =>
    clients.door.redeem(HOST, token, { username, password: password(username) });
  const accountInvite = (extra: { ref?: string; ttl?: number } = {}) =>
    clients.manager.createAccount(HOST, { ttl: 600, source: "invites-api/test", ...extra });
  /** The feed's records after the last read, with kinds. */
  async function feed(): Promise<RedemptionRecord[]> {
    const records: RedemptionRecord[] = [];
    for (;;) {
      const page = await clients.manager.redemptions(HOST, { after: feedCursor, max: 200, kinds: true });
      records.push(...page.records);
      feedCursor = page.next ?? feedCursor;
      if (!page.more) return records;
    }
  }
  /** The budget once the handlers of user-registered (which may run after the client's answer) are done. */
  async function settledUsed(expected: number) {
    let budget = await clients.controls.budget(HOST);
    for (const deadline = Date.now() + 10_000; budget.used !== expected && Date.now() < deadline;) {
      await sleep(100);
      budget = await clients.controls.budget(HOST);
    }
    return budget;
  }
  /** A window of `seconds` with at least `margin` seconds left in it, waiting for the next when needed. */
  async function freshWindow(seconds: number, margin: number) {
    const left = seconds - ((Date.now() / 1_000) % seconds);
    if (left < margin) await sleep(left * 1_000 + 200);
  }

  it("without a budget: nothing counted, not paused", async () => {
    assert.deepEqual(await clients.controls.budget(HOST), { paused: false, used: 0 });
    await feed();
  });

  it("a budget of 10: 60 registrations at once, on every path, make exactly 10 accounts", async () => {
    const window = 86_400;
    await freshWindow(window, 120);
    const set = await clients.controls.setBudget(HOST, { limit: { count: 10, windowSeconds: window } }, ACTOR);
    assert.deepEqual(set.limit, { count: 10, windowSeconds: window });
    assert.equal(set.resetsAt, now() - (now() % window) + window);
    const accountInvites = await Promise.all(Array.from({ length: 15 }, () => accountInvite()));
    const doorInvites = await Promise.all(Array.from({ length: 15 }, () => accountInvite()));
    const group = await clients.manager.createGroup(HOST, { groups: ["team"], ttl: 600, source: "invites-api/test" });
    const spare = await accountInvite();
    const logFrom = prosody?.log().length ?? 0;
    const attempts: Array<{ name: string; path: string; run: () => Promise<unknown> }> = [];
    for (let i = 0; i < 15; i++) {
      attempts.push({
        name: `acct${i}`,
        path: "in-band account",
        run: () => inBand(accountInvites[i]?.id ?? "", `acct${i}`),
      });
      attempts.push({ name: `grp${i}`, path: "in-band group", run: () => inBand(group.id, `grp${i}`) });
      attempts.push({ name: `page${i}`, path: "redeem", run: () => redeem(doorInvites[i]?.id ?? "", `page${i}`) });
      attempts.push({ name: `open${i}`, path: "open in-band", run: () => openly(`open${i}`) });
    }
    // The page's redeems are quick (a component's stanza runs at once, outside any runner, so its
    // account's write never waits): they go once in-band registrations are being written, to race
    // them midway. (A fixed delay was not enough: on a quiet machine the 45 in-band streams were
    // still opening when the redeems took every place, and nothing overlapped.)
    const inBandWriting = (async () => {
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(20)) {
        if (mostWritesHeldAtOnce(prosody?.log().slice(logFrom) ?? "") >= 2) return;
      }
    })();
    const outcomes = await Promise.allSettled(
      attempts.map(async (a) => {
        if (a.path === "redeem") await inBandWriting;
        return a.run();
      }),
    );
    const admitted = attempts.filter((_, i) => outcomes[i]?.status === "fulfilled");
    console.log(`budget of 10, 60 at once: admitted ${admitted.map((a) => `${a.name} (${a.path})`).join(", ")}`);
    console.log(`at most ${mostWritesHeldAtOnce(prosody?.log().slice(logFrom) ?? "")} account writes held at once`);
    assert.equal(admitted.length, 10);
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === "fulfilled") continue;
      const err: unknown = outcome.reason;
      if (attempts[i]?.path === "redeem") appError("registrations_closed", /budget is used up until/)(err);
      else refusedWith("policy-violation", USED_UP)(err);
    }
    assert.ok(mostWritesHeldAtOnce(prosody?.log().slice(logFrom) ?? "") >= 2, "the registrations did not overlap");
    assert.equal((await settledUsed(10)).used, 10);
    // No refused name became an account: each is still free.
    for (const attempt of attempts.filter((_, i) => outcomes[i]?.status === "rejected")) {
      assert.equal(await clients.door.checkName(HOST, spare.id, attempt.name), "free", attempt.name);
    }
    for (const attempt of admitted) assert.equal(await clients.door.checkName(HOST, spare.id, attempt.name), "taken");
    const exhausted = (await feed()).filter((r) => r.kind === "budget_exhausted");
    assert.equal(exhausted.length, 1);
    assert.deepEqual(exhausted[0]?.budget, { count: 10, windowSeconds: window, resetsAt: set.resetsAt });
  });

  it("a refused attempt uses nothing up: a taken name, another account's invite, a used invite", async () => {
    await clients.controls.setBudget(HOST, { limit: { count: 12, windowSeconds: 86_400 } }, ACTOR);
    await assert.rejects(openly("taken"), refusedWith("conflict", /.*/));
    const named = await clients.manager.createAccount(HOST, { username: "named", ttl: 600, source: "invites-api/t" });
    await assert.rejects(inBand(named.id, "other"), refusedWith("not-acceptable", /for the account named only/));
    const used = await accountInvite();
    await inBand(used.id, "first1");
    assert.equal((await settledUsed(11)).used, 11);
    // (In band, a used token on this host, which also allows open registration, is an open registration.)
    // The invite is used up by the handlers of user-registered, which may run after the client's answer.
    for (const deadline = Date.now() + 10_000; (await clients.door.landing(HOST, used.id)).state !== "used";) {
      assert.ok(Date.now() < deadline, "the invite was never used up");
      await sleep(100);
    }
    await assert.rejects(redeem(used.id, "second2"), appError("invite_gone"));
    await assert.rejects(redeem((await accountInvite()).id, "taken"), appError("user_exists"));
    assert.equal((await clients.controls.budget(HOST)).used, 11);
    await openly("last1");
    assert.equal((await settledUsed(12)).used, 12);
    await assert.rejects(openly("over1"), refusedWith("policy-violation", USED_UP));
    // Once per window: this window's record came when its budget of 10 filled, none for 12.
    assert.equal((await feed()).filter((r) => r.kind === "budget_exhausted").length, 0);
  });

  it("the window rolls over: fixed windows aligned to the epoch", async () => {
    await freshWindow(5, 3);
    const set = await clients.controls.setBudget(HOST, { limit: { count: 1, windowSeconds: 5 } }, ACTOR);
    assert.equal((set.resetsAt ?? 0) % 5, 0);
    await openly("roll1");
    await settledUsed(1);
    const refusal = await openly("roll2").then(
      () => assert.fail("admitted over the budget"),
      (err: unknown) => err,
    );
    refusedWith("policy-violation", USED_UP)(refusal);
    const until = Date.parse(/until (\S+)$/.exec((refusal as RegistrationError).text ?? "")?.[1] ?? "");
    assert.equal(until / 1_000, set.resetsAt);
    await sleep(until - Date.now() + 300);
    await openly("roll3");
    const budget = await settledUsed(1);
    assert.equal(budget.resetsAt, (set.resetsAt ?? 0) + 5);
  });

  it("a pause admits 0 on every path and the page says so; a reset still works; resume admits again", async () => {
    await clients.controls.setBudget(HOST, { limit: null }, ACTOR);
    const account = await accountInvite();
    const page = await accountInvite();
    const group = await clients.manager.createGroup(HOST, { groups: ["team"], ttl: 600, source: "invites-api/test" });
    const paused = await clients.controls.setBudget(HOST, { paused: true }, ACTOR);
    assert.equal(paused.paused, true);
    assert.equal((await clients.door.landing(HOST, page.id)).paused, true);
    await assert.rejects(inBand(account.id, "p1"), refusedWith("policy-violation", PAUSED));
    await assert.rejects(inBand(group.id, "p2"), refusedWith("policy-violation", PAUSED));
    await assert.rejects(openly("p3"), refusedWith("policy-violation", PAUSED));
    await assert.rejects(redeem(page.id, "p4"), appError("registrations_closed", /^registrations are paused$/));
    // A password reset makes no account: the pause does not hold it back.
    const reset = await clients.manager.createReset(HOST, { username: "taken", source: "invites-api/test" });
    assert.deepEqual(await clients.door.redeem(HOST, reset.id, { password: password("taken") }), {
      jid: `taken@${HOST}`,
    });
    for (const name of ["p1", "p2", "p3", "p4"])
      assert.equal(await clients.door.checkName(HOST, page.id, name), "free");
    assert.equal((await clients.controls.setBudget(HOST, { paused: false }, ACTOR)).paused, false);
    assert.equal((await clients.door.landing(HOST, page.id)).paused, undefined);
    await inBand(account.id, "p1");
    await inBand(group.id, "p2");
    await openly("p3");
    await redeem(page.id, "p4");
    const switched = (await feed()).filter((r) => r.kind === "paused" || r.kind === "resumed");
    assert.deepEqual(
      switched.map((r) => [r.kind, r.actor]),
      [
        ["paused", ACTOR],
        ["resumed", ACTOR],
      ],
    );
  });

  it("an admin's client sees and sets the same budget, and is allowed to; the pause it sets is in the feed", async () => {
    const root = await login({ port: port(), domain: HOST, username: "root", password: "root-password-1" });
    try {
      const set = await root.execute(HOST, `${MANAGE}budget`, { paused: "true" });
      assert.equal(set.status, "completed");
      assert.deepEqual(set.fields.get("paused"), ["true"]);
      assert.equal((await clients.controls.budget(HOST)).paused, true);
      await root.execute(HOST, `${MANAGE}budget`, { paused: "false", count: "100", window: "3600" });
      const read = await root.execute(HOST, `${MANAGE}budget`);
      assert.deepEqual(read.fields.get("count"), ["100"]);
    } finally {
      await root.close();
    }
    assert.deepEqual((await clients.controls.budget(HOST)).limit, { count: 100, windowSeconds: 3600 });
    const switched = (await feed()).filter((r) => r.kind === "paused" || r.kind === "resumed");
    assert.deepEqual(
      switched.map((r) => [r.kind, r.actor]),
      [
        ["paused", `root@${HOST}`],
        ["resumed", `root@${HOST}`],
      ],
    );
    await clients.controls.setBudget(HOST, { limit: null }, ACTOR);
  });

  it("update keeps the token and link and changes expiry, cap and note; the history says who and what", async () => {
    const made = await clients.manager.createGroup(HOST, {
      groups: ["team"],
      ttl: 600,
      maxUses: 3,
      note: "first note",
      source: "invites-api/test",
    });
    await inBand(made.id, "up1");
    await sleep(300);
    const longer = await clients.controls.updateInvite(HOST, made.id, { ttl: 7_200 }, ACTOR);
    assert.equal(longer.id, made.id);
    assert.equal(longer.uri, made.uri);
    assert.equal(longer.landingPage, made.landingPage);
    assert.ok(Math.abs(longer.expires - (now() + 7_200)) <= 2, String(longer.expires));
    assert.equal(
      (await clients.controls.updateInvite(HOST, made.id, { maxUses: 5, note: "second" }, ACTOR)).maxUses,
      5,
    );
    await assert.rejects(
      clients.controls.updateInvite(HOST, made.id, { maxUses: 1 }, ACTOR),
      appError("bad_request", /above the 1 uses/),
    );
    await assert.rejects(
      clients.controls.updateInvite(HOST, made.id, { ttl: MAX_TTL + 1 }, ACTOR),
      appError("bad_request", /ttl/),
    );
    const cleared = await clients.controls.updateInvite(HOST, made.id, { maxUses: null, note: null }, ACTOR);
    assert.equal(cleared.maxUses, undefined);
    assert.equal(cleared.note, undefined);
    const shown = await clients.manager.show(HOST, made.id);
    assert.equal(shown.expires, longer.expires);
    assert.deepEqual(
      shown.changes?.map((c) => [c.by, c.actor, c.what]),
      [
        [COMPONENT.domain, ACTOR, `expires=${longer.expires}`],
        [COMPONENT.domain, ACTOR, "max_uses=5 note"],
        [COMPONENT.domain, ACTOR, "max_uses=none no-note"],
      ],
    );
    // The listing index still lists it, as it is now; the link still lands and registers.
    let listed;
    for (let after: string | undefined; !listed;) {
      const page = await clients.manager.list(HOST, { after, limit: 200 });
      listed = page.invites.find((i) => i.id === made.id);
      if (!page.next) break;
      after = page.next;
    }
    assert.equal(listed?.expires, longer.expires);
    assert.equal((await clients.door.landing(HOST, made.id)).expires, longer.expires);
    await inBand(made.id, "up2");
  });

  it("update refuses an invite that is not pending, not the service's, or not reusable for a cap", async () => {
    const revoked = await accountInvite();
    await clients.manager.revoke(HOST, revoked.id);
    await assert.rejects(
      clients.controls.updateInvite(HOST, revoked.id, { ttl: 60 }, ACTOR),
      appError("invite_not_found"),
    );
    const expiring = await accountInvite({ ttl: 1 });
    await sleep(2_100);
    await assert.rejects(
      clients.controls.updateInvite(HOST, expiring.id, { ttl: 60 }, ACTOR),
      appError("invite_not_found"),
    );
    const root = await login({ port: port(), domain: HOST, username: "root", password: "root-password-1" });
    try {
      const own = await root.execute(HOST, `${MANAGE}create-account`, { ttl: "600" });
      const id = own.fields.get("id")?.[0] ?? "";
      await assert.rejects(clients.controls.updateInvite(HOST, id, { ttl: 60 }, ACTOR), appError("invite_not_found"));
      // The admin may, from his own client.
      assert.equal((await root.execute(HOST, `${MANAGE}update`, { id, note: "mine" })).fields.get("note")?.[0], "mine");
    } finally {
      await root.close();
    }
    const single = await accountInvite();
    await assert.rejects(
      clients.controls.updateInvite(HOST, single.id, { maxUses: 3 }, ACTOR),
      appError("bad_request", /reusable/),
    );
  });

  it("ref: on the invite made, shown, listed, revoked, in the feed's registrations and in account", async () => {
    const ref = "row 42 — Zoë's batch";
    const made = await accountInvite({ ref });
    assert.equal(made.ref, ref);
    assert.equal((await clients.manager.show(HOST, made.id)).ref, ref);
    const page = await clients.manager.list(HOST, { limit: 200 });
    assert.equal(page.invites.find((i) => i.id === made.id)?.ref, ref);
    await inBand(made.id, "reffed");
    await sleep(300);
    const records = (await feed()).filter((r) => r.id === made.id);
    assert.deepEqual(
      records.map((r) => [r.kind, r.jid, r.ref]),
      [["registered", `reffed@${HOST}`, ref]],
    );
    assert.equal((await clients.manager.account(HOST, "reffed")).ref, ref);
    const revoked = await accountInvite({ ref: "to revoke" });
    assert.equal((await clients.manager.revoke(HOST, revoked.id))?.ref, "to revoke");
    const reset = await clients.manager.createReset(HOST, {
      username: "reffed",
      source: "invites-api/t",
      ref: "reset ref",
    });
    assert.equal(reset.ref, "reset ref");
    await assert.rejects(accountInvite({ ref: "x".repeat(201) }), appError("bad_request", /ref must be at most 200/));
  });

  it("a reader that does not ask for kinds gets registrations only, as before", async () => {
    await clients.controls.setBudget(HOST, { paused: true }, ACTOR);
    await clients.controls.setBudget(HOST, { paused: false }, ACTOR);
    await inBand((await accountInvite()).id, "plain1");
    const records: RedemptionRecord[] = [];
    let after: string | undefined;
    // Its record is written by the handlers of user-registered, which may run after the client's answer.
    for (const deadline = Date.now() + 10_000; !records.some((r) => r.jid === `plain1@${HOST}`); await sleep(100)) {
      assert.ok(Date.now() < deadline, "no record of plain1");
      for (;;) {
        const page = await clients.manager.redemptions(HOST, { after, max: 200 });
        records.push(...page.records);
        after = page.next ?? after;
        if (!page.more) break;
      }
    }
    assert.ok(records.every((r) => r.kind === "registered" || r.kind === "reset"));
  });
});
