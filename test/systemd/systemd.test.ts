// invites-api installed from its npm package on a Debian machine run by systemd, as docs/operations.md's
// "Install on a server (Debian, systemd)" says: a container with systemd as PID 1, built from the
// compose test's Debian stand-ins. `check` finds the wiring good; the unit starts, becomes ready, issues an invite,
// survives a restart with its keys, restarts after a crash, rates no worse in
// `systemd-analyze security` than docs/operations.md says, and stops cleanly within its drain time.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { startEngine, type Engine } from "../compose/engine.js";
import { statedUnitExposure } from "../support/docFigures.js";
import { overallExposure } from "../support/systemdSecurity.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const here = fileURLToPath(new URL(".", import.meta.url));
const minutes = (n: number) => n * 60_000;
const IMAGE = "invites-api-systemd-test";
const HOST = "example.test";
const ENV_FILE = "/etc/invites-api/invites-api.env";

/** The Prosody side docs/operations.md asks for, with this run's secret. */
const prosodySite = (secret: string) => `-- The test's Prosody side (docs/operations.md's "Prosody side" step).
VirtualHost "${HOST}"
\tmodules_enabled = { "invites", "invites_adhoc", "invites_page", "invites_register", "invites_manage" }
\tinvites_manage_jids = { "invites.${HOST}" }
\thttp_external_url = "http://${HOST}:5280/"

Component "invites.${HOST}"
\tcomponent_secret = "${secret}"
`;

describe("the systemd unit, under a real systemd", { concurrency: 1 }, () => {
  const work = mkdtempSync(join(tmpdir(), "invites-api-systemd-"));
  const secret = randomBytes(24).toString("hex");
  let engine: Engine | undefined;
  let container = "";

  /** Runs a command in the container; resolves with its stdout, rejects with its stderr. */
  async function sh(script: string, timeout = 60_000): Promise<string> {
    const { stdout } = await run("docker", ["exec", container, "bash", "-c", script], {
      timeout,
      maxBuffer: 8 * 1024 * 1024,
    });
    return stdout;
  }
  const show = async (property: string) => (await sh(`systemctl show -p ${property} --value invites-api`)).trim();
  /** Runs a command in the container, whatever its exit status: what it printed, stdout and stderr. */
  const said = (script: string) =>
    sh(`(${script}) 2>&1`, 15_000).catch((err: { stdout?: string; message: string }) => err.stdout || err.message);

  /**
   * Runs `probe` (a command in the container) every half second until `ready` accepts what it
   * printed. After `ms`, fails naming `what`, with what the probe last printed, what `diagnose`
   * prints, and the tail of `docker logs` (empty while systemd logs only to its journal).
   */
  async function until(
    what: string,
    ms: number,
    probe: string,
    ready: (output: string) => boolean,
    diagnose = "",
  ): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const output = await said(probe);
      if (ready(output)) return;
      if (Date.now() > deadline) {
        const details = diagnose ? `--- ${diagnose} ---\n${await said(diagnose)}` : "";
        const consoleTail = await run("docker", ["logs", "--tail", "40", container]).then(
          ({ stdout, stderr }) => `${stdout}${stderr}`,
          String,
        );
        assert.fail(
          `${what}: not within ${ms / 1000} s. \`${probe}\` last printed:\n${output.trim() || "(nothing)"}\n` +
            `${details}--- docker logs --tail 40 ---\n${consoleTail.trim() || "(nothing)"}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Polls the service's /ready from inside the machine. */
  const untilReady = (ms: number) =>
    until(
      "invites-api ready (/ready answers 200)",
      ms,
      "curl -fsS -o /dev/null http://127.0.0.1:8080/ready && echo ready",
      (output) => output.trim() === "ready",
      "journalctl -u invites-api --no-pager -n 30; systemctl status invites-api --no-pager",
    );

  async function createInvite(key: string): Promise<{ code: string; location: string }> {
    const head = await sh(
      `curl -sS -o /dev/null -D - -X POST -H 'Authorization: Bearer ${key}' http://127.0.0.1:8080/invites_api`,
    );
    return {
      code: /^HTTP\/[\d.]+ (\d+)/.exec(head)?.[1] ?? "",
      location: /^location: (\S+)/im.exec(head)?.[1] ?? "",
    };
  }

  before(
    async () => {
      engine = await startEngine(root, work);
      await run("bash", [join(root, "test/compose/standins/build.sh")], {
        timeout: minutes(8),
        maxBuffer: 16 * 1024 * 1024,
      });
      // The package as a user gets it: `npm pack` of this checkout.
      const context = join(work, "context");
      mkdirSync(context);
      await run("npm", ["pack", "--pack-destination", context], { cwd: root, timeout: minutes(3) });
      const tarball = readdirSync(context).find((f) => f.endsWith(".tgz"));
      assert.ok(tarball, "npm pack made a tarball");
      copyFileSync(join(context, tarball), join(context, "invites-api.tgz"));
      rmSync(join(context, tarball));
      copyFileSync(join(here, "Dockerfile"), join(context, "Dockerfile"));
      writeFileSync(join(context, "prosody-site.cfg.lua"), prosodySite(secret));
      writeFileSync(join(context, "component_secret"), `${secret}\n`);
      writeFileSync(join(context, "settings.env"), `COMPONENT_DOMAIN=invites.${HOST}\n`);
      await run("docker", ["build", "-q", "-t", IMAGE, context], { timeout: minutes(12), maxBuffer: 16 * 1024 * 1024 });
      const { stdout } = await run("docker", [
        "run",
        "-d",
        // Every capability the machine has: --privileged asks for CAP_SYS_RESOURCE too, which
        // these machines' own root lacks, and runc then refuses to start.
        "--cap-add",
        "ALL",
        "--cap-drop",
        "SYS_RESOURCE",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "apparmor=unconfined",
        "--cgroupns=host",
        // The host's name resolves on a real server; here, to the machine itself.
        "--add-host",
        `${HOST}:127.0.0.1`,
        "-v",
        "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        IMAGE,
      ]);
      container = stdout.trim();
      // Booted: systemd answers on its bus and every unit that starts at boot has started
      // (degraded is fine: no hardware here). Until then systemctl fails ("Failed to connect to
      // bus") or says initializing or starting.
      await until(
        "systemd booted in the container (systemctl is-system-running: running or degraded)",
        minutes(2),
        "systemctl is-system-running",
        (output) => /^(running|degraded)$/.test(output.trim()),
        "systemctl list-jobs --no-pager; systemctl --failed --no-pager; journalctl -b --no-pager -n 40",
      );
      // Prosody starts at boot; started is not yet listening.
      await sh("systemctl start prosody");
      await until(
        "Prosody listening on its component port (5347) and HTTP port (5280)",
        minutes(1),
        "for port in 5347 5280; do (: </dev/tcp/127.0.0.1/$port) 2>/dev/null && echo open || echo closed; done",
        (output) => output.trim() === "open\nopen",
        "systemctl status prosody --no-pager; journalctl -u prosody --no-pager -n 30",
      );
    },
    { timeout: minutes(25) },
  );

  after(async () => {
    try {
      if (container) await run("docker", ["rm", "-f", container], { timeout: 60_000 }).catch(() => undefined);
    } finally {
      await engine?.stop();
      rmSync(work, { recursive: true, force: true });
    }
  });

  let key = "";

  it("invites-api check, run as docs/operations.md says before the first start, finds the wiring good", async () => {
    const out = await sh(
      `runuser -u invites-api -- env COMPONENT_SECRET_FILE=/etc/invites-api/component_secret ` +
        `invites-api --config ${ENV_FILE} check ${HOST} 2>&1`,
    ).catch((err: { stdout?: string; stderr?: string }) => assert.fail(`check failed:\n${err.stdout}${err.stderr}`));
    assert.match(out, /least privilege/);
    assert.match(out, /all well/);
    assert.doesNotMatch(out, new RegExp(secret));
  });

  it("starts as its own user, with the secret as a credential, becomes ready and issues an invite", async () => {
    await sh("systemctl enable --now invites-api");
    await untilReady(60_000);
    const pid = await show("MainPID");
    assert.equal((await sh(`ps -o user= -p ${pid}`)).trim(), "invites-api");
    // The secret reached the service as a file in its credentials directory, not in its environment.
    const environ = await sh(`tr '\\0' '\\n' < /proc/${pid}/environ`);
    assert.doesNotMatch(environ, new RegExp(secret));
    assert.match(environ, /^COMPONENT_SECRET_FILE=\/run\/credentials\/invites-api\.service\/component_secret$/m);
    // A key made with the CLI as docs/operations.md says, as the service's user, in its state directory.
    key = (await sh(`runuser -u invites-api -- invites-api --config ${ENV_FILE} create ${HOST} systemd-test`))
      .trim()
      .split("\n")
      .at(-1)!;
    assert.match(key, /^[\w-]+\/[\w-]+$/);
    assert.equal((await sh("stat -c %U /var/lib/invites-api/keys.sqlite")).trim(), "invites-api");
    const invite = await createInvite(key);
    assert.equal(invite.code, "201");
    assert.match(invite.location, new RegExp(`^http://${HOST.replace(".", "\\.")}:5280/`));
    // The link is Prosody's page for a valid invite: 200, with the invite's preauth link.
    const page = await sh(`curl -s -o /dev/null -D - '${invite.location}'`);
    const token = new URL(invite.location).search.slice(1);
    assert.match(page, /^HTTP\/[\d.]+ 200/);
    assert.ok(page.includes(`preauth=${token}`), page);
    // Its log is in the journal.
    assert.match(await sh("journalctl -u invites-api --no-pager -o cat"), /"msg":"connected to Prosody"/);
  });

  it("systemd-analyze security rates the loaded unit no worse than docs/operations.md says", async () => {
    const out = await sh("systemd-analyze security --no-pager invites-api.service");
    const exposure = overallExposure(out);
    const stated = statedUnitExposure();
    console.log(`systemd-analyze security: ${exposure.toFixed(1)} (docs/operations.md says ${stated.toFixed(1)})`);
    assert.ok(
      exposure <= stated,
      `exposure ${exposure.toFixed(1)}, above docs/operations.md's ${stated.toFixed(1)}:\n${out}`,
    );
  });

  it("survives systemctl restart with its keys", async () => {
    const before = await show("MainPID");
    await sh("systemctl restart invites-api");
    await untilReady(60_000);
    assert.notEqual(await show("MainPID"), before);
    assert.equal((await createInvite(key)).code, "201");
  });

  it("is restarted after a crash", async () => {
    const before = await show("MainPID");
    await sh("systemctl kill -s SIGKILL invites-api");
    const deadline = Date.now() + 30_000;
    while ((await show("MainPID")) === before || (await show("MainPID")) === "0") {
      if (Date.now() > deadline) assert.fail("not restarted within 30 s");
      await new Promise((r) => setTimeout(r, 500));
    }
    await untilReady(60_000);
    assert.equal((await createInvite(key)).code, "201");
  });

  it("stops cleanly, within its drain time", async () => {
    const started = Date.now();
    await sh("systemctl stop invites-api");
    const took = Date.now() - started;
    console.log(`systemctl stop took ${took} ms`);
    assert.equal(await show("Result"), "success");
    assert.equal(await show("ExecMainStatus"), "0");
    assert.equal(await show("ActiveState"), "inactive");
    assert.ok(took < 20_000, `stopped in ${took} ms, within TimeoutStopSec`);
    assert.match(await sh("journalctl -u invites-api --no-pager -o cat"), /"msg":"shutting down"/);
  });
});
