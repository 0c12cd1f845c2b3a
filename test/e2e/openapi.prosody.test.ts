import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import { MANAGE_MODULES, startProsody, type RunningProsody } from "../support/prosody.js";
import { startService, type RunningService } from "../support/service.js";
import { closedPort } from "../support/ports.js";
import { createKey, freshKeyStore, serviceEnv, waitReady } from "../support/stack.js";
import { registerWithInvite } from "../support/xmppClient.js";
import { recordSecret } from "../support/handedOut.js";
import { openInbox } from "../support/inbox.js";

const HOST = "example.test";
const COMPONENT = { domain: "invites.example.test", secret: "openapi-secret" };
// The /invites resource: a host with mod_invites_manage naming the component, and one not naming it.
const MANAGED = "managed.test";
const REFUSING = "refusing.test";

interface ResponseSpec {
  headers?: Record<string, { required?: boolean }>;
  content?: Record<string, { schema: object }>;
}
interface OpenApi {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        responses: Record<string, ResponseSpec>;
        requestBody?: { content: Record<string, { schema: object }> };
      }
    >
  >;
  components: object;
}

describe("the OpenAPI document matches the running service's real answers", () => {
  let prosody: RunningProsody;
  let service: RunningService;
  let offline: RunningService;
  let keyStore: string;
  let doc: OpenApi;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const produced = new Set<string>();

  before(async () => {
    prosody = await startProsody({
      hosts: [HOST, MANAGED, REFUSING],
      components: [COMPONENT],
      // An admin of HOST only (the drop-in mode), so that REFUSING refuses it.
      admins: [],
      hostOptions: {
        [HOST]: { admins: [COMPONENT.domain] },
        [MANAGED]: { modules: MANAGE_MODULES, lines: [`invites_manage_jids = { "${COMPONENT.domain}" }`] },
        [REFUSING]: { modules: MANAGE_MODULES },
      },
      extra: `invites_manage_groups = { team = "Team" }`,
    });
    keyStore = freshKeyStore();
    service = await startService(
      serviceEnv(prosody, COMPONENT, keyStore, {
        INVITE_TIMEOUT_MS: "500",
        AUTH_FAILURE_LIMIT: "3/1m",
        TRUST_PROXY: "true",
        // People may sign in (the /session routes); the offline instance, without it, answers 501.
        // Only the links' text names it: any loopback address will do.
        PUBLIC_URL: "http://127.0.0.1:9",
        SIGN_IN_ACCOUNT_RATE: "2/1m",
      }),
    );
    // A second instance whose Prosody is nowhere: for the answers of a service that is not ready.
    offline = await startService({
      ...serviceEnv(prosody, COMPONENT, keyStore),
      COMPONENT_SERVICE: `xmpp://127.0.0.1:${await closedPort()}`,
    });
    await waitReady(service.url, 10_000);
    doc = (await (await fetch(`${service.url}/openapi.json`)).json()) as OpenApi;
    ajv.addSchema({ $id: "openapi", components: doc.components });
  });
  after(async () => {
    await service?.stop();
    await offline?.stop();
    prosody?.signal("SIGCONT");
    await prosody?.dispose();
  });

  /** Checks one real answer against the document and records its status as produced. */
  async function check(path: string, method: string, res: Response): Promise<void> {
    const spec = doc.paths[path]?.[method.toLowerCase()]?.responses[String(res.status)];
    assert.ok(spec, `${method} ${path} answered ${res.status}, which the document does not list`);
    for (const [name, header] of Object.entries(spec.headers ?? {})) {
      if (header.required || name === "Retry-After") assert.ok(res.headers.get(name), `${res.status} lacks ${name}`);
    }
    const type = (res.headers.get("content-type") ?? "").split(";")[0] ?? "";
    const body = await res.text();
    if (spec.content && body !== "") {
      const media = spec.content[type];
      assert.ok(media, `${method} ${path} ${res.status} answered ${type}, not documented`);
      if (type === "application/json") {
        const validate = ajv.compile({ $ref: "#/$defs/body", $defs: { body: rewrite(media.schema) } });
        assert.ok(validate(JSON.parse(body)), `${method} ${path} ${res.status}: ${ajv.errorsText(validate.errors)}`);
      }
    }
    produced.add(`${method.toUpperCase()} ${path} ${res.status}`);
  }

  /**
   * Checks a request body against the document: one the service took must be allowed, one it
   * refused as invalid must not be (test/unit/openapiRequests.test.ts goes through every limit).
   */
  function checkRequest(path: string, body: string, taken: boolean): void {
    const schema = doc.paths[path]?.post?.requestBody?.content["application/json"]?.schema;
    assert.ok(schema, `POST ${path} documents no JSON body`);
    const validate = ajv.compile({ $ref: "#/$defs/body", $defs: { body: rewrite(schema) } });
    assert.equal(validate(JSON.parse(body)), taken, `POST ${path} ${body}: ${ajv.errorsText(validate.errors)}`);
  }

  // Component refs point into the document added under the id "openapi".
  const rewrite = (schema: object): object =>
    JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/')) as object;

  const json = { Accept: "application/json" };
  // Over Node's 16 KiB header limit: its HTTP parser answers 431 before any route, on any path.
  const oversized = { "X-Filler": "x".repeat(20_000) };
  const api = (base: string, query = "", init: RequestInit = {}) =>
    fetch(`${base}/invites_api${query}`, { redirect: "manual", ...init });

  it("produces and validates every documented answer of /invites_api", async () => {
    const key = await createKey(keyStore, HOST, "openapi", "--rate", "1000/1m");
    const bearer = { Authorization: `Bearer ${key}` };
    for (const method of ["GET", "POST"]) {
      const init = { method, headers: { ...bearer, ...json } };
      await check("/invites_api", method, await api(service.url, "", init));
      await check("/invites_api", method, await api(service.url, "", { method, headers: bearer }));
      await check("/invites_api", method, await api(service.url, "?redirect=1", init));
      await check("/invites_api", method, await api(service.url, `?type=a&type=b`, init));
      // A ttl needs mod_invites_manage, which HOST does not load.
      await check("/invites_api", method, await api(service.url, "?ttl=60", init));
      await check(
        "/invites_api",
        method,
        await api(service.url, "", { method, headers: { ...json, "X-Forwarded-For": "198.51.100.1" } }),
      );
      const limited = await createKey(keyStore, HOST, "limited", "--rate", "1/1m");
      await api(service.url, "", { method, headers: { Authorization: `Bearer ${limited}` } });
      await check(
        "/invites_api",
        method,
        await api(service.url, "", { method, headers: { Authorization: `Bearer ${limited}`, ...json } }),
      );
      await check(
        "/invites_api",
        method,
        await api(service.url, "", { method, headers: { ...init.headers, ...oversized } }),
      );
      const ghost = await createKey(keyStore, "ghost.test");
      await check(
        "/invites_api",
        method,
        await api(service.url, "", { method, headers: { Authorization: `Bearer ${ghost}`, ...json } }),
      );
      await check("/invites_api", method, await api(offline.url, "", init));
      prosody.signal("SIGSTOP");
      await check("/invites_api", method, await api(service.url, "", init));
      prosody.signal("SIGCONT");
    }
    const getOnly = await createKey(keyStore, HOST, "get only", "--methods", "GET");
    await check(
      "/invites_api",
      "POST",
      await api(service.url, "", { method: "POST", headers: { Authorization: `Bearer ${getOnly}`, ...json } }),
    );
    const postOnly = await createKey(keyStore, HOST, "post only", "--methods", "POST");
    await check(
      "/invites_api",
      "GET",
      await api(service.url, "", { headers: { Authorization: `Bearer ${postOnly}`, ...json } }),
    );
    // An Idempotency-Key of a POST: replayed, and 409 with other parameters.
    const once = (query: string) =>
      api(service.url, query, {
        method: "POST",
        headers: { ...bearer, ...json, "Idempotency-Key": "openapi-drop-in" },
      });
    await check("/invites_api", "POST", await once(""));
    const replay = await once("");
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    await check("/invites_api", "POST", replay);
    const reused = await once("?redirect=1");
    assert.equal(reused.status, 409);
    await check("/invites_api", "POST", reused);
    const resetter = await createKey(keyStore, HOST, "resets", "--scope", "reset");
    const reset = await api(service.url, "?type=reset&username=nobody", {
      method: "POST",
      headers: { Authorization: `Bearer ${resetter}`, ...json },
    });
    assert.equal(reset.status, 501, "resets need mod_invites_manage");
    await check("/invites_api", "POST", reset);
    const preflight = { Origin: "https://a.example", "Access-Control-Request-Method": "POST" };
    for (const headers of [preflight, { ...preflight, ...oversized }]) {
      await check("/invites_api", "OPTIONS", await api(service.url, "", { method: "OPTIONS", headers }));
    }
  });

  it("produces and validates every documented answer of the /invites resource", async () => {
    prosody.ctl(["register", "taken", MANAGED, "taken-password-1"]);
    const key = await createKey(keyStore, MANAGED, "resource", "--scope", "manage", "--rate", "1000/1m");
    const keys = {
      ok: key,
      limited: await createKey(keyStore, MANAGED, "limited", "--scope", "manage", "--rate", "1/1m"),
      createOnly: await createKey(keyStore, MANAGED, "create only"),
      noModule: await createKey(keyStore, HOST, "no module", "--scope", "manage"),
      refused: await createKey(keyStore, REFUSING, "refused", "--scope", "manage"),
    };
    const call = (
      base: string,
      path: string,
      init: {
        method?: string;
        key?: string;
        body?: string;
        type?: string;
        from?: string;
        headers?: Record<string, string>;
      } = {},
    ) =>
      fetch(`${base}${path}`, {
        method: init.method ?? "GET",
        headers: {
          ...init.headers,
          ...(init.key ? { Authorization: `Bearer ${init.key}` } : {}),
          ...(init.body !== undefined ? { "Content-Type": init.type ?? "application/json" } : {}),
          ...(init.from ? { "X-Forwarded-For": init.from } : {}),
        },
        ...(init.body !== undefined ? { body: init.body } : {}),
      });
    const bodies = {
      account: JSON.stringify({ ttl: 600, note: "openapi" }),
      group: JSON.stringify({ groups: ["team"] }),
      reset: JSON.stringify({ username: "taken" }),
    };
    let addresses = 0;
    // Every answer that does not depend on the route's own input.
    const shared = async (method: string, path: string, docPath: string, body?: string, limited = keys.limited) => {
      const with_ = (base: string, k?: string, from?: string) => call(base, path, { method, key: k, body, from });
      await check(docPath, method, await with_(service.url, keys.noModule));
      await check(docPath, method, await with_(service.url, keys.refused));
      await check(docPath, method, await with_(offline.url, keys.ok));
      prosody.signal("SIGSTOP");
      await check(docPath, method, await with_(service.url, keys.ok));
      prosody.signal("SIGCONT");
      // 403, then 429 once this address has failed AUTH_FAILURE_LIMIT times.
      const from = `198.51.100.${(addresses += 1)}`;
      await check(docPath, method, await with_(service.url, undefined, from));
      for (let i = 0; i < 3; i++) await with_(service.url, undefined, from);
      await check(docPath, method, await with_(service.url, undefined, from));
      if (method === "POST") {
        await with_(service.url, limited);
        await check(docPath, method, await with_(service.url, limited));
      }
    };

    for (const kind of ["account", "group", "reset"] as const) {
      const path = `/invites/${kind}`;
      const post = (init: { key?: string; body?: string; type?: string }) =>
        call(service.url, path, { method: "POST", ...init });
      const created = await post({ key: keys.ok, body: bodies[kind] });
      assert.equal(created.status, 201, kind);
      await check(path, "POST", created);
      checkRequest(path, bodies[kind], true);
      const unknown = JSON.stringify({ unknown: 1 });
      const refused = await post({ key: keys.ok, body: unknown });
      assert.equal(refused.status, 400, kind);
      await check(path, "POST", refused);
      checkRequest(path, unknown, false);
      await check(path, "POST", await post({ key: keys.ok, body: "x".repeat(17_000) }));
      await check(path, "POST", await post({ key: keys.ok, body: "a=b", type: "application/x-www-form-urlencoded" }));
      await shared("POST", path, path, bodies[kind]);
    }
    // 409 (a taken name) and 404 (a reset for nobody).
    for (const [kind, username] of [
      ["account", "taken"],
      ["reset", "nobody"],
    ]) {
      const path = `/invites/${kind}`;
      await check(
        path,
        "POST",
        await call(service.url, path, { method: "POST", key: keys.ok, body: JSON.stringify({ username }) }),
      );
    }

    // Idempotency-Key: a retry gets the first answer; the same key with another body is 409.
    for (const kind of ["account", "group", "reset"] as const) {
      const path = `/invites/${kind}`;
      const once = (body: string) =>
        call(service.url, path, {
          method: "POST",
          key: keys.ok,
          body,
          headers: { "Idempotency-Key": `openapi-${kind}` },
        });
      await check(path, "POST", await once(bodies[kind]));
      const replay = await once(bodies[kind]);
      assert.equal(replay.headers.get("idempotent-replayed"), "true", kind);
      await check(path, "POST", replay);
      const reused = await once(JSON.stringify({ ...(JSON.parse(bodies[kind]) as object), ttl: 61 }));
      assert.equal(reused.status, 409, kind);
      await check(path, "POST", reused);
    }

    // POST /invites/batch: all made (201), some not (207), a bad body (400, nothing made), too big,
    // not JSON, an Idempotency-Key reused; and whatever any route may meet.
    const batchPath = "/invites/batch";
    const batchBodies = {
      good: JSON.stringify({
        invites: [
          { kind: "account", ref: "openapi" },
          { kind: "group", groups: ["team"] },
        ],
      }),
      partial: JSON.stringify({ invites: [{ kind: "account" }, { kind: "reset", username: "nobody" }] }),
      bad: JSON.stringify({ invites: [{ kind: "account", unknown: 1 }] }),
    };
    const batch = (body: string, init: { type?: string; headers?: Record<string, string> } = {}) =>
      call(service.url, batchPath, { method: "POST", key: keys.ok, body, ...init });
    const batched = await batch(batchBodies.good);
    assert.equal(batched.status, 201, await batched.clone().text());
    await check(batchPath, "POST", batched);
    checkRequest(batchPath, batchBodies.good, true);
    const partial = await batch(batchBodies.partial);
    assert.equal(partial.status, 207, await partial.clone().text());
    await check(batchPath, "POST", partial);
    const bad = await batch(batchBodies.bad);
    assert.equal(bad.status, 400);
    await check(batchPath, "POST", bad);
    checkRequest(batchPath, batchBodies.bad, false);
    await check(batchPath, "POST", await batch("x".repeat(2_200_000)));
    await check(batchPath, "POST", await batch("a=b", { type: "application/x-www-form-urlencoded" }));
    const batchKey = { headers: { "Idempotency-Key": "openapi-batch" } };
    await batch(batchBodies.partial, batchKey);
    await check(batchPath, "POST", await batch(batchBodies.good, batchKey));
    await shared("POST", batchPath, batchPath, JSON.stringify({ invites: [{ kind: "account" }] }));

    // GET and PATCH /budget: read, set and take back, refused, and whatever any route may meet.
    await check("/budget", "GET", await call(service.url, "/budget", { key: keys.ok }));
    await check("/budget", "GET", await call(service.url, "/budget", { key: keys.createOnly }));
    await shared("GET", "/budget", "/budget");
    const budgetChange = (body: string, type?: string) =>
      call(service.url, "/budget", { method: "PATCH", key: keys.ok, body, ...(type ? { type } : {}) });
    const setBudget = await budgetChange(JSON.stringify({ limit: "100/1d" }));
    assert.equal(setBudget.status, 200, await setBudget.clone().text());
    await check("/budget", "PATCH", setBudget);
    await check("/budget", "PATCH", await budgetChange(JSON.stringify({ limit: null })));
    await check("/budget", "PATCH", await budgetChange("{}"));
    await check("/budget", "PATCH", await budgetChange("a=b", "application/x-www-form-urlencoded"));
    await shared("PATCH", "/budget", "/budget", JSON.stringify({ paused: false }));
    await budgetChange(JSON.stringify({ paused: false }));

    // GET /invites/options: any valid key, its powers and the host's groups, roles and ttl bounds.
    for (const key of [keys.ok, keys.createOnly]) {
      const options = await call(service.url, "/invites/options", { key });
      assert.equal(options.status, 200, await options.clone().text());
      await check("/invites/options", "GET", options);
    }
    await shared("GET", "/invites/options", "/invites/options");

    const list = await call(service.url, "/invites", { key: keys.ok });
    const invites = (await list.clone().json()) as Array<{ id: string }>;
    await check("/invites", "GET", list);
    await check("/invites", "GET", await call(service.url, "/invites?limit=0", { key: keys.ok }));
    await check("/invites", "GET", await call(service.url, "/invites", { key: keys.createOnly }));
    await shared("GET", "/invites", "/invites");
    const id = invites[0]?.id ?? "";
    // A revoke that times out (Prosody frozen) still happens when Prosody thaws: not on `id`.
    const spare = invites[1]?.id ?? "";
    for (const method of ["GET", "DELETE"]) {
      await check("/invites/{id}", method, await call(service.url, `/invites/${id}`, { method, key: keys.createOnly }));
      await shared(method, `/invites/${method === "DELETE" ? spare : id}`, "/invites/{id}");
    }
    // PATCH /invites/{id}: a pending invite's upkeep, keeping its link.
    const upkept = invites[2]?.id ?? "";
    const patch = (target: string, body: string, init: { key?: string; type?: string } = {}) =>
      call(service.url, `/invites/${target}`, { method: "PATCH", key: keys.ok, body, ...init });
    const changed = await patch(upkept, JSON.stringify({ ttl: 600, note: "kept up" }));
    assert.equal(changed.status, 200, await changed.clone().text());
    await check("/invites/{id}", "PATCH", changed);
    await check("/invites/{id}", "PATCH", await patch(upkept, JSON.stringify({ unknown: 1 })));
    await check("/invites/{id}", "PATCH", await patch("NoSuchInvite0", JSON.stringify({ note: "x" })));
    await check("/invites/{id}", "PATCH", await patch(upkept, "a=b", { type: "application/x-www-form-urlencoded" }));
    await check("/invites/{id}", "PATCH", await patch(upkept, JSON.stringify({ note: "x" }), { key: keys.createOnly }));
    await shared("PATCH", `/invites/${upkept}`, "/invites/{id}", JSON.stringify({ note: "x" }));
    const shown = await call(service.url, `/invites/${id}`, { key: keys.ok });
    assert.equal(shown.status, 200, await shown.clone().text());
    await check("/invites/{id}", "GET", shown);
    const revoked = await call(service.url, `/invites/${id}`, { method: "DELETE", key: keys.ok });
    assert.equal(revoked.status, 204, await revoked.clone().text());
    await check("/invites/{id}", "DELETE", revoked);
    // A revoked invite is still shown (its state says so), but cannot be revoked again; an id that
    // never named an invite is a 404 for both.
    await check("/invites/{id}", "GET", await call(service.url, `/invites/${id}`, { key: keys.ok }));
    for (const method of ["GET", "DELETE"]) {
      await check("/invites/{id}", method, await call(service.url, `/invites/${id}`, { method, key: keys.ok }));
      await check("/invites/{id}", method, await call(service.url, "/invites/NoSuchInvite0", { method, key: keys.ok }));
    }

    // GET /accounts/{jid}/invite: an account that came in through an invite of this key's host.
    const made = (await (
      await call(service.url, "/invites/account", { method: "POST", key: keys.ok, body: "{}" })
    ).json()) as { id: string };
    await registerWithInvite({
      port: prosody.c2sPort,
      domain: MANAGED,
      token: made.id,
      username: "arrived",
      password: "arrived-password-1",
    });
    const arrival = await call(service.url, "/accounts/arrived/invite", { key: keys.ok });
    assert.equal(arrival.status, 200, await arrival.clone().text());
    await check("/accounts/{jid}/invite", "GET", arrival);
    await check("/accounts/{jid}/invite", "GET", await call(service.url, "/accounts/nobody/invite", { key: keys.ok }));
    await check(
      "/accounts/{jid}/invite",
      "GET",
      await call(service.url, "/accounts/arrived/invite", { key: keys.createOnly }),
    );
    await shared("GET", "/accounts/arrived/invite", "/accounts/{jid}/invite");
  });

  it("produces and validates /health, /ready, /metrics and /openapi.json", async () => {
    for (const path of ["/health", "/ready", "/metrics", "/openapi.json"]) {
      await check(path, "GET", await fetch(`${service.url}${path}`));
      await check(path, "GET", await fetch(`${service.url}${path}`, { headers: oversized }));
    }
    await check("/ready", "GET", await fetch(`${offline.url}/ready`));
  });

  it("produces and validates every documented answer of the session routes", async () => {
    const password = `signer-password-${Math.random().toString(36).slice(2, 10)}`;
    recordSecret("account password", password);
    prosody.ctl(["register", "signer", MANAGED, password]);
    // The service serves the hosts of its keys.
    await createKey(keyStore, MANAGED, "sessions");
    const inbox = await openInbox({ port: prosody.c2sPort, domain: MANAGED, username: "signer", password });
    let addresses = 100;
    const elsewhere = () => ({ "X-Forwarded-For": `198.51.100.${(addresses += 1)}` });
    const crossSite = { "Sec-Fetch-Site": "cross-site" };
    const call = (
      base: string,
      path: string,
      init: { method?: string; body?: string; type?: string; headers?: Record<string, string> } = {},
    ) =>
      fetch(`${base}${path}`, {
        method: init.method ?? "GET",
        redirect: "manual",
        headers: {
          ...json,
          ...init.headers,
          ...(init.body !== undefined ? { "Content-Type": init.type ?? "application/json" } : {}),
        },
        ...(init.body !== undefined ? { body: init.body } : {}),
      });
    const form = { body: "a=b", type: "application/x-www-form-urlencoded" };
    try {
      for (const base of [service.url, offline.url]) {
        await check("/session/methods", "GET", await call(base, "/session/methods"));
      }
      await check("/session/methods", "GET", await call(service.url, "/session/methods", { headers: oversized }));

      // POST /session/link: always 202; its refusals; past SIGN_IN_ACCOUNT_RATE (2/1m), 429.
      const link = (body: string, init: { type?: string; headers?: Record<string, string> } = {}) =>
        call(service.url, "/session/link", { method: "POST", body, ...init });
      const asked = await link(JSON.stringify({ jid: `signer@${MANAGED}` }));
      assert.equal(asked.status, 202, await asked.clone().text());
      await check("/session/link", "POST", asked);
      checkRequest("/session/link", JSON.stringify({ jid: `signer@${MANAGED}` }), true);
      await check("/session/link", "POST", await link(JSON.stringify({ jid: "not a jid" })));
      checkRequest("/session/link", JSON.stringify({ jid: "not a jid" }), false);
      await check("/session/link", "POST", await link(JSON.stringify({ jid: "x".repeat(5_000) })));
      await check("/session/link", "POST", await link(form.body, { type: form.type }));
      await check(
        "/session/link",
        "POST",
        await link(JSON.stringify({ jid: `signer@${MANAGED}` }), { headers: crossSite }),
      );
      const nobody = JSON.stringify({ jid: `nobody@${MANAGED}` });
      for (let i = 0; i < 2; i++) assert.equal((await link(nobody)).status, 202);
      const limited = await link(nobody);
      assert.equal(limited.status, 429);
      await check("/session/link", "POST", limited);
      await check("/session/link", "POST", await link(nobody, { headers: oversized }));
      await check("/session/link", "POST", await call(offline.url, "/session/link", { method: "POST", body: nobody }));

      // The link arrives as a chat message; its token signs in once.
      const message = await inbox.next(COMPONENT.domain, (body) => body.includes("#sign-in="), 15_000);
      const token = /#sign-in=([A-Za-z0-9_-]+)/.exec(message ?? "")?.[1] ?? "";
      assert.ok(token, "the sign-in link arrived");
      recordSecret("sign-in token", token);
      const redeem = (body: string, init: { type?: string; headers?: Record<string, string> } = {}) =>
        call(service.url, "/session/link/redeem", { method: "POST", body, ...init });
      await check("/session/link/redeem", "POST", await redeem(JSON.stringify({ token }), { headers: crossSite }));
      const redeemed = await redeem(JSON.stringify({ token }));
      assert.equal(redeemed.status, 200, await redeemed.clone().text());
      const cookie = (redeemed.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      recordSecret("session cookie", cookie.slice(cookie.indexOf("=") + 1));
      const { csrf } = (await redeemed.clone().json()) as { csrf: string };
      await check("/session/link/redeem", "POST", redeemed);
      checkRequest("/session/link/redeem", JSON.stringify({ token }), true);
      // Failures from an address of their own: they block it (AUTH_FAILURE_LIMIT 3/1m).
      const from = elsewhere();
      await check("/session/link/redeem", "POST", await redeem(JSON.stringify({ token }), { headers: from }));
      for (let i = 0; i < 3; i++) await redeem(JSON.stringify({ token }), { headers: from });
      await check("/session/link/redeem", "POST", await redeem(JSON.stringify({ token }), { headers: from }));
      await check("/session/link/redeem", "POST", await redeem(JSON.stringify({ token: "t".repeat(201) })));
      checkRequest("/session/link/redeem", JSON.stringify({ token: "t".repeat(201) }), false);
      await check("/session/link/redeem", "POST", await redeem(form.body, { type: form.type }));
      await check("/session/link/redeem", "POST", await redeem(JSON.stringify({ token }), { headers: oversized }));
      await check(
        "/session/link/redeem",
        "POST",
        await call(offline.url, "/session/link/redeem", { method: "POST", body: JSON.stringify({ token }) }),
      );

      // GET, PATCH and DELETE /session: with the cookie (and X-CSRF-Token on changes), without.
      const signedIn = { Cookie: cookie, "X-CSRF-Token": csrf };
      const session = (
        method: string,
        init: { body?: string; type?: string; headers?: Record<string, string>; query?: string } = {},
      ) => call(service.url, `/session${init.query ?? ""}`, { method, ...init });
      await check("/session", "GET", await session("GET", { headers: { Cookie: cookie } }));
      await check("/session", "GET", await session("GET"));
      await check("/session", "GET", await session("GET", { headers: oversized }));
      const notify = JSON.stringify({ notify: false });
      const changed = await session("PATCH", { body: notify, headers: signedIn });
      assert.equal(changed.status, 200, await changed.clone().text());
      await check("/session", "PATCH", changed);
      await check(
        "/session",
        "PATCH",
        await session("PATCH", { body: JSON.stringify({ notify: "no" }), headers: signedIn }),
      );
      await check("/session", "PATCH", await session("PATCH", { ...form, headers: signedIn }));
      await check("/session", "PATCH", await session("PATCH", { body: notify, headers: { Cookie: cookie } }));
      await check("/session", "PATCH", await session("PATCH", { body: notify }));
      await check("/session", "PATCH", await session("PATCH", { body: notify, headers: oversized }));
      await check("/session", "DELETE", await session("DELETE", { headers: { Cookie: cookie } }));
      await check("/session", "DELETE", await session("DELETE", { headers: signedIn, query: "?everywhere=maybe" }));
      await check("/session", "DELETE", await session("DELETE", { headers: oversized }));
      const out = await session("DELETE", { headers: signedIn, query: "?everywhere=true" });
      assert.equal(out.status, 204);
      await check("/session", "DELETE", out);
      for (const method of ["GET", "PATCH", "DELETE"]) {
        const body = method === "PATCH" ? notify : undefined;
        await check("/session", method, await call(offline.url, "/session", { method, ...(body ? { body } : {}) }));
      }

      // The OAuth sign-in's two steps: a redirect, also for what fails (to the page, with the code).
      const nowhere = await call(service.url, "/session/oauth?host=nowhere.test&next=/admin/");
      assert.match(nowhere.headers.get("location") ?? "", /#sign-in-error=unknown_host$/);
      await check("/session/oauth", "GET", nowhere);
      const replayed = await call(service.url, "/session/oauth/callback?code=c&state=s");
      assert.match(replayed.headers.get("location") ?? "", /#sign-in-error=state_invalid$/);
      await check("/session/oauth/callback", "GET", replayed);
      for (const path of ["/session/oauth", "/session/oauth/callback"]) {
        await check(path, "GET", await call(offline.url, `${path}?host=nowhere.test&state=s`));
        await check(path, "GET", await call(service.url, `${path}?host=nowhere.test&state=s`, { headers: oversized }));
      }
    } finally {
      await inbox.close();
    }
  });

  it("answers every route that takes a session 401 for a cookie whose session has ended", async () => {
    // The shape of a session id, of no session: ended, or never one.
    const dead = { Cookie: `invites_session=${"E".repeat(43)}`, ...json };
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (!op.responses["401"] || path.startsWith("/session")) continue;
        const url = path.replace("{id}", "A".repeat(24)).replace("{jid}", `nobody@${MANAGED}`);
        const res = await fetch(`${service.url}${url}`, { method: method.toUpperCase(), headers: dead });
        assert.equal(res.status, 401, `${method} ${path}`);
        await check(path, method, res);
      }
    }
  });

  it("documents no status that no test produced", () => {
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).flatMap(([method, op]) =>
        Object.keys(op.responses).map((status) => `${method.toUpperCase()} ${path} ${status}`),
      ),
    );
    assert.deepEqual(
      documented.filter((d) => !produced.has(d)),
      [],
    );
    assert.equal(doc.openapi, "3.1.0");
  });
});
