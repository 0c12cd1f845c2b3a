import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { inviteIsValid } from "../support/invites.js";
import { startProsody, type RunningProsody } from "../support/prosody.js";
import { startService, type RunningService } from "../support/service.js";
import { createKey, freshKeyStore, serviceEnv, waitReady } from "../support/stack.js";

const HOSTS = ["one.test", "two.test"];
const COMPONENT = { domain: "invites.one.test", secret: "ecosystem-secret" };

describe("one instance for several hosts; JSON, metrics and logs, against a real Prosody", () => {
  let prosody: RunningProsody;
  let service: RunningService;
  let keyStore: string;
  const secrets: string[] = [];
  const key = async (host: string) => {
    const k = await createKey(keyStore, host);
    secrets.push(k.split("/")[1] ?? "");
    return k;
  };

  before(async () => {
    prosody = await startProsody({ hosts: HOSTS, components: [COMPONENT] });
    keyStore = freshKeyStore();
    service = await startService(serviceEnv(prosody, COMPONENT, keyStore, { LOG_LEVEL: "info" }));
    await waitReady(service.url, 10_000);
  });
  after(async () => {
    await service?.stop();
    await prosody?.dispose();
  });

  it("issues invites for two hosts through one component, each key for its own host", async () => {
    for (const host of HOSTS) {
      const res = await fetch(`${service.url}/invites_api?key=${await key(host)}`, { redirect: "manual" });
      assert.equal(res.status, 201);
      const location = res.headers.get("location") ?? "";
      assert.equal(new URL(location).hostname, host);
      assert.ok(await inviteIsValid(location, prosody.httpPort), location);
    }
  });

  it("answers JSON with Accept: application/json: the invite, and {error, message}", async () => {
    const res = await fetch(`${service.url}/invites_api`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await key("one.test")}`, Accept: "application/json" },
    });
    assert.equal(res.status, 201);
    const body = (await res.json()) as { url: string; uri: string; expires: string };
    assert.equal(body.url, res.headers.get("location"));
    assert.match(body.uri, /^xmpp:one\.test\?register;preauth=/);
    assert.ok(Date.parse(body.expires) > Date.now());
    assert.ok(await inviteIsValid(body.url, prosody.httpPort));
    const refused = await fetch(`${service.url}/invites_api?key=nope`, { headers: { Accept: "application/json" } });
    assert.deepEqual(await refused.json(), { error: "invalid_key", message: "invalid API key" });
  });

  it("counts invites by host, requests, auth failures, rate limits, XMPP state and ad-hoc latency in /metrics", async () => {
    const limited = await createKey(keyStore, "two.test", "--rate", "1/1m");
    secrets.push(limited.split("/")[1] ?? "");
    assert.equal((await fetch(`${service.url}/invites_api?key=${limited}`)).status, 201);
    assert.equal((await fetch(`${service.url}/invites_api?key=${limited}`)).status, 429);
    const text = await (await fetch(`${service.url}/metrics`)).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    assert.equal(value(/^invites_api_invites_issued_total\{host="one\.test"\} (\d+)$/m), 2);
    assert.equal(value(/^invites_api_invites_issued_total\{host="two\.test"\} (\d+)$/m), 2);
    assert.ok(
      value(/^invites_api_http_requests_total\{route="\/invites_api",method="GET",status="201"\} (\d+)$/m) >= 2,
    );
    assert.ok(value(/^invites_api_auth_failures_total\{reason="invalid_key"\} (\d+)$/m) >= 1);
    assert.equal(value(/^invites_api_xmpp_connected (\d+)$/m), 1);
    assert.equal(value(/^invites_api_adhoc_duration_seconds_count\{outcome="ok"\} (\d+)$/m), 4);
    assert.equal(value(/^invites_api_rate_limited_total\{kind="key"\} (\d+)$/m), 1);
  });

  it("drop-in (the component an admin): no password reset, even where Prosody 13 offers one", async () => {
    prosody.ctl(["register", "alice", "one.test", "old-password-123"]);
    const k = await createKey(keyStore, "one.test", "resets", "--scope", "create,reset");
    secrets.push(k.split("/")[1] ?? "");
    const res = await fetch(`${service.url}/invites_api?type=reset&username=alice`, {
      method: "POST",
      headers: { Authorization: `Bearer ${k}`, Accept: "application/json" },
      redirect: "manual",
    });
    // Through mod_invites_adhoc the component could reset an admin: only mod_invites_manage checks.
    assert.equal(res.status, 501);
    assert.deepEqual(await res.json(), {
      error: "not_implemented",
      message: 'password resets need mod_invites_manage: load "invites_manage" under VirtualHost "one.test"',
    });
    const account = await fetch(`${service.url}/invites_api?key=${k}`, { redirect: "manual" });
    assert.equal(account.status, 201, "account invites stay the default");
  });

  it("logs JSON lines, one access line per request, never a key from the query or the header", async () => {
    const k = await key("two.test");
    await fetch(`${service.url}/invites_api?key=${k}&redirect=1`, { redirect: "manual" });
    await fetch(`${service.url}/invites_api`, { headers: { Authorization: `Bearer ${k}` } });
    await service.waitForLog(
      (l) => l.msg === "request" && String((l.req as { url?: string })?.url).includes("redirect=1"),
    );
    const output = service.output();
    for (const line of output.split("\n").filter(Boolean)) assert.doesNotThrow(() => JSON.parse(line), line);
    const access = service.lines.filter((l) => l.msg === "request");
    assert.ok(access.length >= 7, String(access.length));
    const redirected = access.find((l) => String((l.req as { url?: string }).url).includes("redirect=1"));
    assert.equal((redirected?.req as { url?: string }).url, "/invites_api?key=[redacted]&redirect=1");
    assert.equal((redirected?.res as { statusCode?: number }).statusCode, 303);
    for (const secret of secrets) assert.equal(output.includes(secret), false, "a secret reached the log");
    assert.equal(/authorization/i.test(output), false, "no Authorization header in the log");
  });
});
