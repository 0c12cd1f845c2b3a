import assert from "node:assert/strict";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { countInvites, inviteIsValid } from "../support/invites.js";
import { createProsody, startProsody } from "../support/prosody.js";
import { runCli, startService, type RunningService } from "../support/service.js";
import { createKey, freshKeyStore, serviceEnv, waitReady, withStack } from "../support/stack.js";

const HOST = "example.test";
const COMPONENT = { domain: "invites.example.test", secret: "resilience-secret" };
const INVITE_TIMEOUT_MS = 3_000;
// What "at once" allows: generous for a loaded machine, and far below the 30 s the service would
// otherwise wait (the invite and shutdown timeouts these tests set).
const AT_ONCE_MS = 5_000;
const LONG_WAIT = "30000";

interface Outcome {
  status: number;
  ms: number;
  location?: string;
}

/** One client: requests invites until `until()` says stop, pausing a little after a refusal. */
async function client(url: string, key: string, until: () => boolean, outcomes: Outcome[]): Promise<void> {
  while (!until()) {
    const started = Date.now();
    const res = await fetch(`${url}/invites_api`, { headers: { Authorization: `Bearer ${key}` } });
    await res.arrayBuffer();
    outcomes.push({ status: res.status, ms: Date.now() - started, location: res.headers.get("location") ?? undefined });
    if (res.status !== 201) await sleep(25);
  }
}

describe("resilience against a real Prosody", () => {
  it("survives Prosody being killed under load: no hung request, every 201 valid, ready again by itself", async () => {
    const prosody = await startProsody({ hosts: [HOST], components: [COMPONENT] });
    let service: RunningService | undefined;
    let done = false;
    let clients: Array<Promise<void>> = [];
    try {
      const keyStore = freshKeyStore();
      service = await startService(
        // 20 clients on one key would meet the default per-key rate; this test is about Prosody.
        serviceEnv(prosody, COMPONENT, keyStore, {
          INVITE_TIMEOUT_MS: String(INVITE_TIMEOUT_MS),
          DEFAULT_KEY_RATE: "off",
        }),
      );
      const url = service.url;
      await waitReady(url, 10_000);
      const key = await createKey(keyStore, HOST);
      const outcomes: Outcome[] = [];
      clients = Array.from({ length: 20 }, () => client(url, key, () => done, outcomes));

      await sleep(1_000);
      await prosody.kill("SIGKILL");
      const killedAt = outcomes.length;
      await sleep(1_500);
      await prosody.start();
      const readyMs = await waitReady(url, 15_000);
      await sleep(1_000);
      done = true;
      await Promise.all(clients);

      const created = outcomes.filter((o) => o.status === 201);
      const during = outcomes.slice(killedAt);
      console.log(
        `requests ${outcomes.length}, 201 ${created.length}, 503 ${outcomes.filter((o) => o.status === 503).length}, ` +
          `504 ${outcomes.filter((o) => o.status === 504).length}, slowest ${Math.max(...outcomes.map((o) => o.ms))} ms, ` +
          `ready ${readyMs} ms after Prosody's return`,
      );
      assert.deepEqual(
        [...new Set(outcomes.map((o) => o.status))].filter((s) => ![201, 503, 504].includes(s)),
        [],
        "only 201, 503 and 504",
      );
      assert.ok(
        during.some((o) => o.status === 503),
        "refused at once while Prosody was down",
      );
      assert.ok(created.length > 20 && outcomes.slice(-20).some((o) => o.status === 201), "201s before and after");
      // Generous bounds for a loaded machine: what they rule out is a hung request, and a backoff
      // grown towards its 30 s maximum.
      assert.ok(Math.max(...outcomes.map((o) => o.ms)) < INVITE_TIMEOUT_MS + 3_000, "no request outlived its deadline");
      assert.ok(readyMs < 10_000, `ready again ${readyMs} ms after Prosody came back`);
      const checks = await Promise.all(created.map((o) => inviteIsValid(o.location ?? "", prosody.httpPort)));
      assert.equal(checks.filter((valid) => !valid).length, 0, "every 201 is a valid invite in Prosody");
    } finally {
      done = true; // the clients stop on every path, also when an assertion failed
      await Promise.allSettled(clients);
      await service?.stop();
      await prosody.dispose();
    }
  });

  it("starts before Prosody: answers 503 at once, then becomes ready by itself", async () => {
    const prosody = await createProsody({ hosts: [HOST], components: [COMPONENT] });
    let service: RunningService | undefined;
    try {
      const keyStore = freshKeyStore();
      service = await startService(serviceEnv(prosody, COMPONENT, keyStore, { INVITE_TIMEOUT_MS: LONG_WAIT }));
      const key = await createKey(keyStore, HOST);
      const started = Date.now();
      const res = await fetch(`${service.url}/invites_api?key=${key}`);
      assert.equal(res.status, 503);
      assert.ok(Date.now() - started < AT_ONCE_MS, "answered at once");
      assert.ok(Number(res.headers.get("retry-after")) > 0);
      const ready = await fetch(`${service.url}/ready`);
      assert.equal(ready.status, 503);
      const body = (await ready.json()) as { xmpp: { ok: boolean; problem: string } };
      assert.equal(body.xmpp.ok, false);
      assert.match(body.xmpp.problem, /cannot reach Prosody|connecting/);

      await prosody.start();
      await waitReady(service.url, 10_000);
      const after = await fetch(`${service.url}/invites_api?key=${key}`, { redirect: "manual" });
      assert.equal(after.status, 201);
      assert.ok(await inviteIsValid(after.headers.get("location") ?? "", prosody.httpPort));
    } finally {
      await service?.stop();
      await prosody.dispose();
    }
  });

  it("on SIGTERM finishes every request it accepted, then exits 0", async () => {
    await withStack(
      { hosts: [HOST], components: [COMPONENT] },
      { component: COMPONENT },
      async ({ prosody, service, keyStore }) => {
        const key = await createKey(keyStore, HOST);
        // Freeze Prosody so that the requests are certainly in flight when the signal comes.
        prosody.signal("SIGSTOP");
        const requests = Array.from({ length: 10 }, () =>
          fetch(`${service.url}/invites_api?key=${key}`, { redirect: "manual" }),
        );
        const asked = () => service.lines.filter((line) => line.msg === "creating invite").length;
        await service.waitForLog(() => asked() >= 10);
        const exitCode = service.stop("SIGTERM");
        await service.waitForLog((line) => line.msg === "shutting down");
        await sleep(300);
        assert.equal(service.child.exitCode, null, "still draining");
        await assert.rejects(fetch(`${service.url}/health`), "no new connections once stopping");
        prosody.signal("SIGCONT");
        const answers = await Promise.all(requests);
        assert.deepEqual(
          answers.map((r) => r.status),
          Array(10).fill(201),
        );
        for (const res of answers) assert.ok(await inviteIsValid(res.headers.get("location") ?? "", prosody.httpPort));
        assert.equal(await exitCode, 0);
        assert.match(prosody.log(), /Received <\/stream:stream>/, "the XMPP stream was closed cleanly");
      },
    );
  });

  it("a second signal during the drain exits at once", async () => {
    await withStack(
      { hosts: [HOST], components: [COMPONENT] },
      { component: COMPONENT, env: { INVITE_TIMEOUT_MS: LONG_WAIT, SHUTDOWN_TIMEOUT_MS: LONG_WAIT } },
      async ({ prosody, service, keyStore }) => {
        const key = await createKey(keyStore, HOST);
        prosody.signal("SIGSTOP");
        const pending = fetch(`${service.url}/invites_api?key=${key}`).catch(() => undefined);
        await service.waitForLog((line) => line.msg === "creating invite");
        service.child.kill("SIGTERM");
        await service.waitForLog((line) => line.msg === "shutting down");
        const started = Date.now();
        const code = await service.stop("SIGINT");
        assert.equal(code, 130);
        assert.ok(Date.now() - started < AT_ONCE_MS, "exited at once");
        await pending;
      },
    );
  });

  it("with a wrong component secret stays up, says why in /ready and the log, and backs off", async () => {
    const wrong = { ...COMPONENT, secret: "not-the-secret" };
    const stack = { component: wrong, env: { RECONNECT_MIN_MS: "1000" }, ready: false };
    await withStack({ hosts: [HOST], components: [COMPONENT] }, stack, async ({ prosody, service }) => {
      const windowMs = 6_000;
      await sleep(windowMs);
      const ready = await fetch(`${service.url}/ready`);
      assert.equal(ready.status, 503);
      const body = (await ready.json()) as { xmpp: { problem: string } };
      assert.match(body.xmpp.problem, /not-authorized/);
      const complaints = service.lines.filter((l) => String(l.msg).includes("rejected the component connection"));
      assert.equal(complaints.length, 1, "the configuration error is logged once");
      assert.match(String(complaints[0]?.fix), /COMPONENT_SECRET does not match component_secret/);
      assert.equal(service.output().includes("not-the-secret"), false, "the secret is not logged");
      // The library's fixed 1 s loop makes ~7 attempts in 6 s; backoff from 1 s (0.75 s with jitter) allows 4.
      // Counted as handshakes Prosody refused: the harness's TCP probe of the port is no attempt.
      const attempts = prosody
        .log()
        .split("\n")
        .filter((l) => l.includes("Component authentication failed"));
      const delays = service.lines.filter((l) => l.msg === "reconnect scheduled").map((l) => l.delay);
      console.log(`connection attempts in ${windowMs} ms: ${attempts.length}, delays ${delays.join(", ")}`);
      assert.ok(attempts.length >= 2 && attempts.length <= 4, `${attempts.length} attempts`);
      assert.equal((await fetch(`${service.url}/health`)).status, 200, "the process is up");
    });
  });

  it("a component JID Prosody does not know is logged with its fix, and shows in /ready", async () => {
    const unknown = { domain: "nobody.example.test", secret: COMPONENT.secret };
    await withStack(
      { hosts: [HOST], components: [COMPONENT] },
      { component: unknown, ready: false },
      async ({ service }) => {
        const line = await service.waitForLog((l) => String(l.msg).includes("rejected the component connection"));
        assert.match(String(line.msg), /host-unknown/);
        assert.match(String(line.fix), /Prosody has no Component "nobody\.example\.test"/);
        const ready = (await (await fetch(`${service.url}/ready`)).json()) as { xmpp: { problem: string } };
        assert.match(ready.xmpp.problem, /host-unknown/);
      },
    );
  });

  it("a second instance with the same component JID logs the conflict and its fix", async () => {
    const prosody = await startProsody({ hosts: [HOST], components: [COMPONENT] });
    let first: RunningService | undefined;
    try {
      first = await startService(serviceEnv(prosody, COMPONENT, freshKeyStore()));
      await waitReady(first.url, 10_000);
      const second = await startService(serviceEnv(prosody, COMPONENT, freshKeyStore()));
      try {
        const line = await second.waitForLog((l) => String(l.msg).includes("(conflict)"));
        assert.match(String(line.fix), /own component JID/);
        assert.equal((await fetch(`${first.url}/ready`)).status, 200, "the first instance keeps its connection");
      } finally {
        await second.stop();
      }
    } finally {
      await first?.stop();
      await prosody.dispose();
    }
  });

  it("a key store that breaks while running gives 503, not a crash; one broken at start exits 1", async () => {
    await withStack(
      { hosts: [HOST], components: [COMPONENT] },
      { component: COMPONENT },
      async ({ prosody, service, keyStore }) => {
        const key = await createKey(keyStore, HOST);
        assert.equal((await fetch(`${service.url}/invites_api?key=${key}`, { redirect: "manual" })).status, 201);
        // Overwrite the SQLite files (the database and its write-ahead log) under the running
        // service: every read now fails.
        for (const file of [keyStore, `${keyStore}-wal`, `${keyStore}-shm`]) {
          if (existsSync(file)) writeFileSync(file, Buffer.alloc(Math.max(statSync(file).size, 4096), 0x42));
        }
        const before = await countInvites(prosody.dataDir);
        const res = await fetch(`${service.url}/invites_api?key=${key}`);
        assert.equal(res.status, 503);
        assert.doesNotMatch(await res.text(), /SQLITE|sqlite|at /);
        const ready = await fetch(`${service.url}/ready`);
        assert.equal(ready.status, 503);
        assert.equal(((await ready.json()) as { store: { ok: boolean } }).store.ok, false);
        assert.equal(await countInvites(prosody.dataDir), before);
        assert.equal(service.child.exitCode, null, "still running");

        const notAFolder = join(dirname(keyStore), "file");
        writeFileSync(notAFolder, "");
        const broken = await runCli(["serve"], serviceEnv(prosody, COMPONENT, join(notAFolder, "keys.sqlite")));
        assert.equal(broken.code, 1);
        assert.match(broken.stderr, /^error: KEY_STORE: cannot create the folder/);
      },
    );
  });

  it("Prosody's refusals are 502 with a log line saying what to fix, and create nothing", async () => {
    const hosts = ["ok.test", "noadmin.test", "noadhoc.test"];
    const prosodyOptions = {
      hosts,
      components: [COMPONENT],
      admins: [],
      hostOptions: {
        "ok.test": { admins: [COMPONENT.domain] },
        "noadhoc.test": { admins: [COMPONENT.domain], modules: ["adhoc", "invites", "invites_page"] },
      },
    };
    await withStack(prosodyOptions, { component: COMPONENT }, async ({ prosody, service, keyStore }) => {
      const ask = async (host: string) =>
        fetch(`${service.url}/invites_api?key=${await createKey(keyStore, host)}`, { redirect: "manual" });
      assert.equal((await ask("ok.test")).status, 201, "the working host works");
      const before = await countInvites(prosody.dataDir);
      const cases = [
        ["noadmin.test", ["forbidden"], /admins/],
        // Prosody 0.12 answers service-unavailable for a command node nobody provides.
        ["noadhoc.test", ["item-not-found", "service-unavailable"], /invites_adhoc/],
        ["ghost.test", ["remote-server-not-found", "host-unknown", "not-allowed"], /not a VirtualHost/],
      ] as const;
      for (const [host, condition, fix] of cases) {
        const res = await ask(host);
        assert.equal(res.status, 502, host);
        assert.doesNotMatch(await res.text(), /forbidden|item-not-found|admins|invites_adhoc/);
        const line = await service.waitForLog(
          (l) => l.msg === "Prosody refused to create an invite" && l.host === host,
        );
        console.log(`${host}: ${String(line.condition)} -> ${String(line.fix)}`);
        assert.ok(condition.includes(String(line.condition) as never), String(line.condition));
        assert.match(String(line.fix), fix);
      }
      assert.equal(await countInvites(prosody.dataDir), before);
    });
  });
});
