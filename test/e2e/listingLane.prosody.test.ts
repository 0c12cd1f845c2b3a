import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MANAGE_MODULES, type RunningProsody } from "../support/prosody.js";
import type { RunningService } from "../support/service.js";
import { createKey, startStack, type RunningStack } from "../support/stack.js";
import type { InviteJson } from "../../src/http/invitesResource.js";

// Issue 26.8: listing must not make an invite wait behind pages of 200. The service asks Prosody
// for a page in chunks of at most CHUNK invites, one list command per host at a time, so an
// invite waits behind at most one chunk. mod_command_trace (test/support/prosody-modules) logs
// each command in the order Prosody handles it, which is what these tests read.
const HOST = "lane.test";
const COMPONENT = { domain: "invites.lane.test", secret: "lane-secret" };
const CHUNK = 20;
const LIST = "xmpp:invites-api/mod_invites_manage#list";
const CREATE = "xmpp:invites-api/mod_invites_manage#create-account";

/** The commands Prosody handled in `log`, in order: node and `max`. */
function traced(log: string): Array<{ node: string; max: number | undefined }> {
  return Array.from(log.matchAll(/Command trace: (\S+) max=(\S+) from/g), (m) => ({
    node: m[1] ?? "",
    max: m[2] === "-" ? undefined : Number(m[2]),
  }));
}

describe("listing waits its turn: chunks of 20, one list command per host at a time", () => {
  let stack: RunningStack | undefined;
  let prosody: RunningProsody;
  let service: RunningService;
  let key: string;
  let bystander: string;

  before(async () => {
    stack = await startStack(
      {
        hosts: [HOST],
        components: [COMPONENT],
        admins: [],
        hostOptions: { [HOST]: { modules: [...MANAGE_MODULES, "command_trace"] } },
        extra: `invites_manage_jids = { "${COMPONENT.domain}" }`,
      },
      { component: COMPONENT, env: { MANAGE_RATE: "off" } },
    );
    ({ prosody, service } = stack);
    key = await createKey(stack.keyStore, HOST, "lister", "--scope", "manage");
    bystander = await createKey(stack.keyStore, HOST, "bystander");
  });
  after(() => stack?.stop());

  const call = (path: string, method = "GET", as = key) =>
    fetch(`${service.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${as}`, Accept: "application/json", "Content-Type": "application/json" },
      ...(method === "POST" ? { body: "{}" } : {}),
    });
  const nextOf = (res: Response) => /^<([^>]+)>; rel="next"$/.exec(res.headers.get("link") ?? "")?.[1];

  /** Every page from `first`, following Link: the pages' sizes and the ids in order. */
  async function walk(first: string): Promise<{ sizes: number[]; ids: string[] }> {
    const sizes: number[] = [];
    const ids: string[] = [];
    for (let path: string | undefined = first; path;) {
      const res = await call(path);
      assert.equal(res.status, 200, path);
      const page = (await res.json()) as InviteJson[];
      sizes.push(page.length);
      ids.push(...page.map((invite) => invite.id));
      path = nextOf(res);
    }
    return { sizes, ids };
  }

  it("a page of more than 20 is several commands of at most 20, and its Link goes on where it stopped", async () => {
    const made: string[] = [];
    for (let i = 0; i < 60; i += 1) {
      const res = await call("/invites/account", "POST");
      assert.equal(res.status, 201);
      made.push(((await res.json()) as InviteJson).id);
    }
    const from = prosody.log().length;
    const pending = await walk("/invites?limit=50");
    assert.deepEqual(pending.sizes.slice(0, 2), [50, 10], "a page is `limit` long, however many commands it took");
    // Oldest first, ties (the same second) by id: not necessarily the order they were made in.
    assert.deepEqual([...pending.ids].sort(), [...made].sort(), "every invite once");
    const lists = traced(prosody.log().slice(from)).filter((c) => c.node === LIST);
    assert.ok(lists.length >= 3, `the 60 invites took ${lists.length} list commands`);
    for (const list of lists) assert.ok(list.max !== undefined && list.max <= CHUNK, `max=${list.max}`);

    // The history's pages too: 30 revoked, listed 40 at a time.
    for (const id of made.slice(0, 30)) assert.equal((await call(`/invites/${id}`, "DELETE")).status, 204);
    const revoked = await walk("/invites?state=revoked&limit=40");
    assert.deepEqual([...revoked.ids].sort(), made.slice(0, 30).sort(), "each revoked invite once");
    assert.equal(revoked.sizes[0], 30);
  });

  it("an invite asked for while four clients list 200 at a time waits behind at most one list command", async () => {
    const from = prosody.log().length;
    // Frozen, Prosody handles nothing: whatever the service sends meanwhile queues on the component's
    // stream, and once thawed Prosody handles it in the order it was sent.
    prosody.signal("SIGSTOP");
    let listing: Promise<Response[]>;
    let creating: Promise<Response>;
    try {
      listing = Promise.all(Array.from({ length: 4 }, () => call("/invites?limit=200")));
      await sleep(300); // the listers' requests first, as a bystander meets them
      creating = call("/invites/account", "POST", bystander);
      await sleep(500);
    } finally {
      prosody.signal("SIGCONT");
    }
    const [lists, created] = await Promise.all([listing, creating]);
    for (const res of lists) assert.equal(res.status, 200);
    assert.equal(created.status, 201);

    const order = traced(prosody.log().slice(from));
    const createdAt = order.findIndex((c) => c.node === CREATE);
    assert.ok(createdAt >= 0, "Prosody handled the create command");
    const before = order.slice(0, createdAt).filter((c) => c.node === LIST);
    assert.ok(before.length <= 1, `${before.length} list commands were handled before the invite's`);
    for (const list of order.filter((c) => c.node === LIST)) {
      assert.ok(list.max !== undefined && list.max <= CHUNK, `a list command asked for max=${list.max}`);
    }
  });
});
