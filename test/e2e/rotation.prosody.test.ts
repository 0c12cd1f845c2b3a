import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Webhook } from "standardwebhooks";
import { startAll } from "../support/cleanup.js";
import { startProsody, type RunningProsody } from "../support/prosody.js";
import { startReceiver, type Receiver, type Received } from "../support/receiver.js";
import { runCli, startService, type RunningService } from "../support/service.js";
import { startPostgres, startRedis, type RunningServer } from "../support/servers.js";
import { createKey, serviceEnv, waitReady } from "../support/stack.js";

// Rotation (issue 30) under load: two instances sharing one store, a real Prosody, a real receiver.
const HOST = "example.test";
const COMPONENTS = [
  { domain: "invites1.example.test", secret: "rotation-secret-1" },
  { domain: "invites2.example.test", secret: "rotation-secret-2" },
];
const GRACE = "3s";
const GRACE_MS = 3_000;
// Requests and deliveries this close to an instant (the grace's end, the rotation's commit) are not
// judged: the test's clock reads are not the service's.
const MARGIN_MS = 500;
const FAST = {
  WEBHOOK_RETRY_MIN_MS: "100",
  WEBHOOK_RETRY_MAX_MS: "400",
  WEBHOOK_TIMEOUT_MS: "3000",
  WEBHOOK_LEASE_MS: "4000",
  WEBHOOK_POLL_MS: "100",
  // The old secret, after its grace, is refused as a wrong one is; no address gets blocked here.
  AUTH_FAILURE_LIMIT: "off",
};

interface Sent {
  readonly secret: "old" | "new";
  readonly instance: number;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly status: number;
}

/** `until …` of the line a rotate command prints before the secret, in ms. */
function graceEnd(stdout: string): number {
  const until = /until (\S+Z)/.exec(stdout)?.[1];
  assert.ok(until, stdout);
  return Date.parse(until);
}

/**
 * The receiver a careful integrator runs: it verifies with one secret, the old one until it is told
 * the new one. Each delivery is also checked against each secret alone, for the assertions.
 */
function verifying(receiver: Receiver, oldSecret: string) {
  const checks: Array<{ at: number; id: string; signatures: number; old: boolean; new: boolean; answered: number }> =
    [];
  const state = { secret: oldSecret, newSecret: "" };
  const passes = (secret: string, r: Received) => {
    if (!secret) return false;
    try {
      new Webhook(secret).verify(r.body, r.headers as Record<string, string>);
      return true;
    } catch {
      return false;
    }
  };
  receiver.answer = (r) => {
    const answered = passes(state.secret, r) ? 204 : 400;
    checks.push({
      at: Date.now(),
      id: String(r.headers["webhook-id"]),
      signatures: String(r.headers["webhook-signature"]).split(" ").length,
      old: passes(oldSecret, r),
      new: passes(state.newSecret, r),
      answered,
    });
    return answered;
  };
  return { checks, state };
}

const backends: Array<[string, () => Promise<RunningServer>]> = [
  ["redis", startRedis],
  ["postgres", startPostgres],
];

for (const [kind, startStore] of backends) {
  describe(`a rotation under load, two instances sharing ${kind}`, () => {
    it("no request refused and no delivery failing verification across it; the old secrets end with their grace", async (t) => {
      const store = await startStore();
      let prosody: RunningProsody | undefined;
      let receiver: Receiver | undefined;
      let services: RunningService[] = [];
      // The load runs until told to stop; stopped before the services are, on every path.
      const load = { stop: false, running: Promise.resolve() as Promise<unknown> };
      try {
        const running = (prosody = await startProsody({ hosts: [HOST], components: COMPONENTS }));
        const hooks = (receiver = await startReceiver());
        const env = (i: number) => serviceEnv(running, COMPONENTS[i]!, store.url, FAST);
        services = await startAll([() => startService(env(0)), () => startService(env(1))], (s) => s.stop());
        await Promise.all(services.map((s) => waitReady(s.url, 15_000)));
        const cli = (...args: string[]) => runCli(args, { KEY_STORE: store.url });

        const oldKey = await createKey(store.url, HOST, "rotated", "--rate", "100000/1m", "--max-invites", "100000");
        const id = oldKey.split("/")[0] ?? "";
        const added = await cli("webhook", "add", HOST, `${hooks.url}/in`, "--allow-http", "--allow-private");
        assert.equal(added.code, 0, added.stderr);
        const webhookId = /^webhook (\S+) of /.exec(added.stdout)?.[1] ?? "";
        const receiving = verifying(hooks, added.stdout.trim().split("\n").at(-1) ?? "");

        // The load: four clients, each alternating instances, with the old key until told otherwise
        // (the key's usage is counted with each request while the rotation rewrites its record).
        const sent: Sent[] = [];
        const keys = { old: oldKey, new: "" };
        const client = async (n: number) => {
          for (let i = n; !load.stop; i += 1) {
            const secret = keys.new && i % 2 === 0 ? "new" : "old";
            const instance = i % 2 === n % 2 ? 0 : 1;
            const startedAt = Date.now();
            const res = await fetch(`${services[instance]!.url}/invites_api?key=${keys[secret]}`, {
              redirect: "manual",
            });
            await res.arrayBuffer();
            sent.push({ secret, instance, startedAt, endedAt: Date.now(), status: res.status });
            // A few hundred requests over the whole run, not thousands.
            await sleep(25);
          }
        };
        load.running = Promise.all([0, 1, 2, 3].map(client));
        await sleep(1_000);

        // Both rotated with the CLI, at once, while the load runs.
        const [rotated, hookRotated] = await Promise.all([
          cli("rotate", HOST, id, "--grace", GRACE),
          cli("webhook", "rotate", HOST, webhookId, "--grace", GRACE),
        ]);
        const rotatedAt = Date.now();
        for (const done of [rotated, hookRotated]) assert.equal(done.code, 0, done.stderr);
        const newKey = rotated.stdout.trim().split("\n").at(-1) ?? "";
        assert.match(newKey, new RegExp(`^${id}/[A-Za-z0-9_-]{32}$`), "ID/SECRET alone on the last line");
        const keyGraceEnd = graceEnd(rotated.stdout);
        keys.new = newKey;
        const newSecret = hookRotated.stdout.trim().split("\n").at(-1) ?? "";
        assert.match(newSecret, /^whsec_[A-Za-z0-9+/]{43}=$/);
        const hookGraceEnd = graceEnd(hookRotated.stdout);
        receiving.state.newSecret = newSecret;
        // The integrator puts the new secret in place a moment later (the old one still signs).
        await sleep(500);
        const switchedAt = Date.now();
        receiving.state.secret = newSecret;

        // On past both graces' end, then the load stops.
        await sleep(Math.max(keyGraceEnd, hookGraceEnd) - Date.now() + 1_500);
        load.stop = true;
        await load.running;

        const before = sent.filter((s) => s.secret === "old" && s.endedAt < keyGraceEnd - MARGIN_MS);
        const afterGrace = sent.filter((s) => s.secret === "old" && s.startedAt > keyGraceEnd + MARGIN_MS);
        const fresh = sent.filter((s) => s.secret === "new");
        // A few hundred on a quiet machine (the diagnostic line below says how many).
        assert.ok(sent.length >= 100, `a load of requests: ${sent.length}`);
        assert.ok(
          before.filter((s) => s.startedAt > keyGraceEnd - GRACE_MS).length >= 5,
          "old-secret requests during the grace",
        );
        for (const instance of [0, 1]) {
          assert.ok(
            afterGrace.some((s) => s.instance === instance),
            `old secret tried on instance ${instance}`,
          );
          assert.ok(
            fresh.some((s) => s.instance === instance),
            `new secret used on instance ${instance}`,
          );
        }
        const statuses = (list: Sent[]) => [...new Set(list.map((s) => s.status))];
        assert.deepEqual(statuses(before), [201], "0 refused before the grace ends");
        assert.deepEqual(statuses(fresh), [201], "the new secret works at once, on both instances");
        assert.deepEqual(statuses(afterGrace), [403], "the old secret refused after the grace");
        const after = JSON.parse((await cli("show", HOST, "--json", "--", id)).stdout) as Record<string, unknown>;
        assert.equal(after.previousSecretUntil, undefined, "the grace is over");
        assert.equal(after.invitesIssued, sent.filter((s) => s.status === 201).length, "no count lost");

        // Every invite's event arrives, and no delivery failed the receiver's verification.
        const made = sent.filter((s) => s.status === 201).length;
        await hooks.until(
          () => new Set(receiving.checks.filter((c) => c.answered === 204).map((c) => c.id)).size >= made,
          60_000,
        );
        const { checks } = receiving;
        assert.deepEqual(
          checks.filter((c) => c.answered !== 204),
          [],
          "0 deliveries failing verification",
        );
        const inGrace = checks.filter((c) => c.at > rotatedAt + MARGIN_MS && c.at < hookGraceEnd - MARGIN_MS);
        const past = checks.filter((c) => c.at > hookGraceEnd + MARGIN_MS);
        assert.ok(inGrace.length >= 5 && past.length >= 5, `${inGrace.length} in the grace, ${past.length} after`);
        for (const c of inGrace) assert.deepEqual([c.signatures, c.old, c.new], [2, true, true], "both sign");
        for (const c of past) assert.deepEqual([c.signatures, c.old, c.new], [1, false, true], "the new one only");
        assert.ok(
          checks.some((c) => c.at < switchedAt && c.at > rotatedAt),
          "the old-secret receiver got some",
        );
        t.diagnostic(
          `${sent.length} requests (${before.length} with the old secret before its grace ended, ${fresh.length} with ` +
            `the new one, ${afterGrace.length} with the old one after); ${checks.length} deliveries ` +
            `(${inGrace.length} in the webhook's grace, ${past.length} after), 0 failing verification`,
        );
      } finally {
        load.stop = true;
        await load.running.catch(() => undefined);
        await Promise.allSettled(services.map((s) => s.stop()));
        await receiver?.stop();
        await prosody?.dispose();
        await store.dispose();
      }
    });
  });
}
