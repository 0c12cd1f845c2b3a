// The docker-compose deployment, started for real as the README says, and a user's whole path
// through it: key, invite, the service's invite page (invites_page), sign-up on its form, login
// over c2s with STARTTLS, then a restart of Prosody, a down and up with the volumes, and the
// `shared` profile.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, afterEach, before, describe, it } from "node:test";
import { copyDeployment, keyFrom, type Deployment } from "./deployment.js";
import { startEngine, type Engine } from "./engine.js";
import { http, until200 } from "./http.js";
import { fixedHostPorts, publishOnEphemeralPorts } from "./ports.js";
import { serveRocks } from "./rocks/server.js";
import { loginWithStartTls } from "./xmpp.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const here = fileURLToPath(new URL(".", import.meta.url));
/** Kept between runs: the LuaRocks folder made from Debian's prosody-modules. */
const cacheDir = "/var/tmp/invites-api-compose-test";

const domain = "xmpp.test"; // replaces example.com, as the README says
const minutes = (n: number) => n * 60_000;

const httpBase = ({ host, port }: { host: string; port: number }) => `http://${host}:${port}`;

/** A link names the configured host; reach it at `published`, where the test published its port. */
function onLoopback(published: string, link: string): { url: string; host: string } {
  const url = new URL(link);
  return { url: `${published}${url.pathname}${url.search}`, host: url.host };
}

async function createInvite(base: string, key: string): Promise<{ status: number; location: string }> {
  const answer = await http(`${base}/invites_api`, { method: "POST", headers: { Authorization: `Bearer ${key}` } });
  return { status: answer.status, location: String(answer.headers.location ?? "") };
}

/** Retries while the service is still reconnecting to Prosody (503), up to `ms`. */
async function inviteWhenReconnected(base: string, key: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { status, location } = await createInvite(base, key).catch(() => ({ status: 0, location: "" }));
    if (status === 201) return location;
    if (status !== 503 && status !== 0) assert.fail(`POST /invites_api answered ${status}`);
    if (Date.now() > deadline) assert.fail(`still ${status} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const sha256 = (pem: string) => new X509Certificate(pem).fingerprint256;

describe("docker compose deployment", { concurrency: 1 }, () => {
  const work = mkdtempSync(join(tmpdir(), "invites-api-compose-"));
  let engine: Engine | undefined;
  let rocks: Awaited<ReturnType<typeof serveRocks>> | undefined;
  let deployment: Deployment;
  // Where the host reaches the deployment: ephemeral ports (ports.ts), looked up after every start.
  let api = "";
  let pages = "";
  let c2s = { host: "", port: 0 };
  const locate = async () => {
    api = httpBase(await deployment.published("invites-api", 8080));
    pages = httpBase(await deployment.published("prosody", 5280));
    c2s = await deployment.published("prosody", 5222);
  };
  const account = { username: `user${randomBytes(3).toString("hex")}`, password: "compose-Test-pw-4217" };
  let keptKey = ""; // made before the restarts, must survive them
  let failed = false;

  afterEach((t) => {
    if ((t as { passed?: boolean }).passed === false) failed = true;
  });

  before(
    async () => {
      engine = await startEngine(root, work);
      await run("bash", [join(here, "standins/build.sh")], { timeout: minutes(8), maxBuffer: 16 * 1024 * 1024 });
      await run("bash", [join(here, "rocks/prepare.sh"), cacheDir], { timeout: minutes(3) });
      rocks = await serveRocks(join(cacheDir, "rocks"));
      deployment = copyDeployment(root, join(work, "invites-api"), {
        COMPOSE_PROJECT_NAME: "invites-api-compose-test",
        COMPOSE_FILE: `docker-compose.yml:${join(here, "docker-compose.offline.yml")}`,
        INVITES_API_TEST_PLUGIN_SERVER: rocks.url,
      });
      // The README's steps, as written there.
      await deployment.sh(`printf 'COMPONENT_SECRET=%s\\n' "$(openssl rand -hex 32)" > .env`);
      await deployment.sh(`sed -i 's/example\\.com/${domain}/g' prosody-config/prosody.cfg.lua docker-compose.yml`);
      // No free host port needed: a Prosody already on 5222 must not fail the test.
      publishOnEphemeralPorts(join(deployment.dir, "docker-compose.yml"));
      assert.deepEqual(fixedHostPorts(await deployment.compose(["--profile", "shared", "config"])), []);
      // Whatever a run that was killed left behind.
      await deployment.compose(["--profile", "shared", "down", "-v", "--remove-orphans"]);
    },
    { timeout: minutes(12) },
  );

  after(async () => {
    try {
      if (deployment) {
        const logs = await deployment.compose(["--profile", "shared", "logs", "--no-color"]).catch(String);
        writeFileSync(join(work, "compose.log"), logs);
        if (failed) console.log(`--- the deployment's last log lines ---\n${logs.split("\n").slice(-60).join("\n")}`);
        await deployment.compose(["--profile", "shared", "down", "-v", "--remove-orphans"], minutes(2));
      }
    } finally {
      await rocks?.close();
      await engine?.stop();
      if (failed || process.env.KEEP_COMPOSE_TEST_DIR) console.log(`compose test files kept in ${work}`);
      else rmSync(work, { recursive: true, force: true });
    }
  });

  it("starts with `docker compose up -d --build` and /ready answers 200", { timeout: minutes(10) }, async () => {
    await deployment.compose(["up", "-d", "--build"], minutes(10));
    await locate();
    await until200(`${api}/ready`, minutes(2));
  });

  it("makes a self-signed certificate when none is mounted, and says so", async () => {
    const logs = await deployment.compose(["logs", "--no-color", "prosody"]);
    assert.match(logs, new RegExp(`no certificate for ${domain.replace(".", "\\.")} .*self-signed`));
  });

  // `docker compose exec` of the CLI, as the README shows it.
  const cli = (service: string, ...args: string[]) =>
    deployment.compose(["exec", "-T", service, "node", "bin/invites-api.js", ...args]);

  let invite = "";
  let key = { id: "", key: "" };
  const escaped = domain.replace(".", "\\.");

  it("gives an invite for a key made with `exec … create`, linking to the service's invite page, which answers", async () => {
    key = keyFrom(await cli("invites-api", "create", domain, "compose test"));
    const { status, location } = await createInvite(api, key.key);
    assert.equal(status, 201);
    // invites_page in prosody.cfg.lua, after the README's sed: port 8080 as docker-compose.yml publishes it.
    assert.match(location, new RegExp(`^http://${escaped}:8080/invite/${escaped}/[\\w-]+$`));
    const { url, host } = onLoopback(api, location);
    const page = await http(url, { headers: { Host: host } });
    assert.equal(page.status, 200, page.body);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.match(page.body, new RegExp(`You are invited to ${escaped}`));
    invite = location;
  });

  it("registers an account with that invite on the page's own form", async () => {
    const { url, host } = onLoopback(api, invite);
    const body = new URLSearchParams({
      username: account.username,
      password: account.password,
      confirm: account.password,
    });
    const done = await http(url, {
      method: "POST",
      // As a browser posts the page's form: from the page's own origin.
      headers: { Host: host, Origin: `http://${host}`, "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString(),
    });
    assert.equal(done.status, 201, done.body);
    assert.ok(done.body.includes(`Your account ${account.username}@${domain} is ready`), done.body);
    // The used invite's page says so.
    assert.equal((await http(url, { headers: { Host: host } })).status, 410);
  });

  it("lets that account log in over c2s with STARTTLS, with the self-signed certificate", async () => {
    const pem = await deployment.compose(["exec", "-T", "prosody", "cat", `/var/run/prosody/certs/${domain}.crt`]);
    const login = await loginWithStartTls({ ...c2s, domain, ...account, ca: pem });
    assert.match(login.plainFeatures, /<starttls xmlns=['"]urn:ietf:params:xml:ns:xmpp-tls['"]>\s*<required\/>/);
    assert.equal(login.certificate.fingerprint256, sha256(pem));
    assert.ok(login.jid.startsWith(`${account.username}@${domain}/`), login.jid);
  });

  it("keeps Prosody's own pages for the invites they serve: the landing page and the invites_register_web form", async () => {
    // Invites above the ceiling (an admin's) keep Prosody's own page as their link; any token opens it.
    const token = new URL((await createInvite(api, key.key)).location).pathname.split("/").pop();
    assert.ok(token);
    const landing = onLoopback(pages, `http://${domain}:5280/invites_page?${token}`);
    const page = await http(landing.url, { headers: { Host: landing.host } });
    assert.equal(page.status, 200);
    assert.match(String(page.headers.link ?? ""), new RegExp(`preauth=${token}`));
    const { url, host } = onLoopback(pages, `http://${domain}:5280/register?t=${token}`);
    const form = await http(url, { headers: { Host: host } });
    assert.equal(form.status, 200);
    assert.match(form.body, new RegExp(`name="token" value="${token}"`));
    const other = { user: `web${account.username}`, password: account.password, token };
    const body = new URLSearchParams(other);
    const done = await http(url, {
      method: "POST",
      headers: { Host: host, "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString(),
    });
    assert.equal(done.status, 200, done.body);
    assert.ok(done.body.includes(`${other.user}@${domain}`), "the success page names the new account");
  });

  it("least privilege: a manage key makes, lists and revokes invites through mod_invites_manage", async () => {
    const manage = keyFrom(await cli("invites-api", "create", domain, "manager", "--scope", "manage")).key;
    const headers = { Authorization: `Bearer ${manage}`, "Content-Type": "application/json" };
    const made = await fetch(`${api}/invites/group`, {
      method: "POST",
      headers,
      body: JSON.stringify({ groups: ["staff"], ttl: 3600 }),
    });
    assert.equal(made.status, 201, await made.clone().text());
    const group = (await made.json()) as { id: string; landing_page: string; reusable: boolean };
    assert.equal(group.reusable, true);
    const listed = (await (await fetch(`${api}/invites`, { headers })).json()) as Array<{ id: string }>;
    assert.ok(listed.some((pending) => pending.id === group.id));
    assert.equal((await fetch(`${api}/invites/${group.id}`, { method: "DELETE", headers })).status, 204);
    const { url, host } = onLoopback(api, group.landing_page);
    const page = await http(url, { headers: { Host: host } });
    assert.equal(page.status, 410, "the invite page says the revoked invite is gone");
  });

  it("refuses a key deleted with `exec … delete` (403)", async () => {
    await cli("invites-api", "delete", domain, "--", key.id);
    assert.equal((await createInvite(api, key.key)).status, 403);
  });

  it("reconnects by itself after `docker compose restart prosody`", async () => {
    keptKey = keyFrom(
      await deployment.compose(["exec", "-T", "invites-api", "node", "bin/invites-api.js", "create", domain, "kept"]),
    ).key;
    await deployment.compose(["restart", "prosody"]);
    await locate();
    await inviteWhenReconnected(api, keptKey, minutes(1));
    await until200(`${api}/ready`, minutes(1));
  });

  it("stops Prosody with a message when the config enables a module the image lacks", async () => {
    const config = readFileSync(join(deployment.dir, "prosody-config/prosody.cfg.lua"), "utf8");
    const broken = join(deployment.dir, "prosody-config/broken.cfg.lua");
    writeFileSync(broken, config.replace('"invites_page";', '"invites_page"; "not_installed";'));
    // The deployment's own Prosody image, started with that configuration and nothing else.
    const container = (await deployment.compose(["ps", "-q", "prosody"])).trim();
    const image = (await run("docker", ["inspect", "-f", "{{.Image}}", container])).stdout.trim();
    const outcome = await run(
      "docker",
      [
        "run",
        "--rm",
        "--name",
        "invites-api-compose-test-broken",
        "-v",
        `${broken}:/etc/prosody/prosody.cfg.lua:ro`,
        image,
      ],
      {
        env: { ...process.env },
        timeout: 60_000,
      },
    ).then(
      () => assert.fail("Prosody started without mod_not_installed"),
      (err: { code?: number; stdout?: string; stderr?: string }) => err,
    );
    await run("docker", ["rm", "-f", "invites-api-compose-test-broken"]).catch(() => {}); // were it still running
    assert.equal(outcome.code, 1);
    assert.match(`${outcome.stdout}${outcome.stderr}`, /enables modules this image does not have: mod_not_installed/);
    rmSync(broken);
  });

  it("fails the image build when a community module cannot be installed", async () => {
    assert.ok(rocks);
    const build = run(
      "docker",
      [
        "build",
        "--force-rm", // the failing step's container too
        "--network",
        "host",
        "--build-arg",
        `PLUGIN_SERVER=${rocks.url}`,
        "--build-arg",
        "MODULES=mod_invites_page mod_not_on_the_server",
        join(deployment.dir, "prosody-config"),
      ],
      { maxBuffer: 16 * 1024 * 1024, timeout: minutes(3) },
    );
    const output = await build.then(
      () => assert.fail("the build succeeded without mod_not_on_the_server"),
      (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ""}${err.stderr ?? ""}`,
    );
    assert.match(output, /community module mod_not_on_the_server could not be installed/);
  });

  it(
    "keeps keys and accounts on the volumes across `down` and `up`, and serves a mounted certificate",
    { timeout: minutes(5) },
    async () => {
      await deployment.compose(["down"]);
      // Your own certificate, copied in as the README says (here a certificate made for the test).
      const issued = join(work, "issued");
      await deployment.sh(
        `mkdir -p ${issued} && openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=${domain}" ` +
          `-addext "subjectAltName=DNS:${domain}" -keyout ${issued}/privkey.pem -out ${issued}/fullchain.pem 2>/dev/null`,
      );
      await deployment.sh(`cp ${issued}/fullchain.pem prosody-config/certs/${domain}.crt`);
      await deployment.sh(`cp ${issued}/privkey.pem prosody-config/certs/${domain}.key`);
      await deployment.compose(["up", "-d", "--build"], minutes(5));
      await locate();
      await until200(`${api}/ready`, minutes(2));
      assert.equal((await createInvite(api, keptKey)).status, 201);
      const pem = readFileSync(join(deployment.dir, `prosody-config/certs/${domain}.crt`), "utf8");
      const login = await loginWithStartTls({ ...c2s, domain, ...account, ca: pem });
      assert.equal(login.certificate.fingerprint256, sha256(pem));
    },
  );

  it(
    "shares keys between the `shared` profile's instances: made on one, deleted on one, refused by the other",
    { timeout: minutes(5) },
    async () => {
      await deployment.compose(["--profile", "shared", "up", "-d", "--build"], minutes(5));
      const a = httpBase(await deployment.published("invites-api-a", 8080));
      const b = httpBase(await deployment.published("invites-api-b", 8080));
      await until200(`${a}/ready`, minutes(2));
      await until200(`${b}/ready`, minutes(2));
      const shared = keyFrom(await cli("invites-api-a", "create", domain, "shared"));
      assert.equal((await createInvite(b, shared.key)).status, 201);
      await cli("invites-api-a", "delete", domain, "--", shared.id);
      assert.equal((await createInvite(b, shared.key)).status, 403);
      assert.equal((await createInvite(a, shared.key)).status, 403);
    },
  );
});
