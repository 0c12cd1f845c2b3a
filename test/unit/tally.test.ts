import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tally } from "../../src/redemptions/tally.js";
import { WEBHOOK_EVENTS, type Subscription } from "../../src/store/webhooks.js";
import type { RedemptionRecord } from "../../src/xmpp/inviteManager.js";

const HOST = "e.test";
const subscription: Subscription = {
  id: "s1",
  host: HOST,
  url: "https://hooks.example/in",
  events: [...WEBHOOK_EVENTS],
  allowHttp: false,
  allowPrivate: false,
  secret: `whsec_${Buffer.alloc(32, 7).toString("base64")}`,
  createdAt: "2026-06-01T00:00:00.000Z",
};

const at = 1_800_000_000;
const records: RedemptionRecord[] = [
  {
    cursor: "c1",
    kind: "registered",
    id: "t1",
    jid: `ana@${HOST}`,
    at,
    reset: false,
    source: "invites-api/K1",
    ref: "row 1",
    groups: ["team-a"],
  },
  { cursor: "c2", kind: "reset", id: "t2", jid: `bo@${HOST}`, at, reset: true, source: "invites-api/K1" },
  {
    cursor: "c3",
    kind: "expired",
    id: "t3",
    jid: "",
    at,
    reset: false,
    source: "invites-api/alice@e.test",
    ref: "row 3",
    groups: ["team-b"],
  },
  { cursor: "c4", kind: "paused", id: "", jid: "", at, reset: false, actor: "invites-api/K9" },
  { cursor: "c5", kind: "resumed", id: "", jid: "", at, reset: false, actor: "admin@e.test" },
  {
    cursor: "c6",
    kind: "budget_exhausted",
    id: "",
    jid: "",
    at,
    reset: false,
    budget: { count: 10, windowSeconds: 86_400, resetsAt: at + 600 },
  },
];

describe("tally: the feed's records as counts and webhook deliveries", () => {
  it("each kind is its event, with ref and actor; only registrations count accounts", () => {
    const batch = tally(HOST, null, records, [subscription]);
    assert.deepEqual([batch.registrations, batch.resets], [1, 1]);
    assert.deepEqual([...batch.accounts], [["K1", { count: 1, lastAt: new Date(at * 1_000).toISOString() }]]);
    const bodies = batch.deliveries.map((d) => JSON.parse(d.payload) as { type: string; data: object });
    assert.deepEqual(
      bodies.map((b) => [b.type, b.data]),
      [
        [
          "invite.redeemed",
          {
            host: HOST,
            invite: "t1",
            key: "K1",
            created_by: "key:K1",
            groups: ["team-a"],
            ref: "row 1",
            jid: `ana@${HOST}`,
            at,
            actor: null,
          },
        ],
        [
          "reset.redeemed",
          {
            host: HOST,
            invite: "t2",
            key: "K1",
            created_by: "key:K1",
            groups: [],
            ref: null,
            jid: `bo@${HOST}`,
            at,
            actor: null,
          },
        ],
        [
          "invite.expired",
          {
            host: HOST,
            invite: "t3",
            key: null,
            created_by: "alice@e.test",
            groups: ["team-b"],
            ref: "row 3",
            at,
            actor: null,
          },
        ],
        ["registration.paused", { host: HOST, at, actor: "invites-api/K9" }],
        ["registration.resumed", { host: HOST, at, actor: "admin@e.test" }],
        [
          "registration.budget_exhausted",
          { host: HOST, at, limit: { count: 10, window_seconds: 86_400 }, resets_at: at + 600, actor: null },
        ],
      ],
    );
  });

  it("a record read twice is the same delivery (its id from the record's cursor)", () => {
    const once = tally(HOST, null, records, [subscription]).deliveries.map((d) => d.id);
    const again = tally(HOST, "c0", records, [subscription]).deliveries.map((d) => d.id);
    assert.deepEqual(again, once);
    assert.equal(new Set(once).size, records.length);
  });

  it("a subscription with --groups gets only the events of invites within its circles", () => {
    const confined = (groups: string[]) =>
      tally(HOST, null, records, [{ ...subscription, groups }]).deliveries.map(
        (d) => (JSON.parse(d.payload) as { data: { invite: string } }).data.invite,
      );
    assert.deepEqual(confined(["team-a"]), ["t1"]);
    assert.deepEqual(confined(["team-b"]), ["t3"]);
    assert.deepEqual(confined(["team-a", "team-b"]), ["t1", "t3"]);
    assert.deepEqual(confined(["team-c"]), []);
  });

  it("a subscription gets only the events it takes", () => {
    const only = { ...subscription, events: ["invite.expired" as const] };
    const batch = tally(HOST, null, records, [only]);
    assert.deepEqual(
      batch.deliveries.map((d) => (JSON.parse(d.payload) as { type: string }).type),
      ["invite.expired"],
    );
  });
});
