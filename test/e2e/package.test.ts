// The npm package as a server gets it: `npm pack` of this checkout, installed with
// `npm install -g --prefix` into an empty directory (no source tree, no dev dependencies, no build),
// then that copy run against a real Prosody: --version, check, serve.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { inviteIsValid } from "../support/invites.js";
import { MANAGE_MODULES, createProsody, type RunningProsody } from "../support/prosody.js";
import { runCli, startService, type RunningService } from "../support/service.js";
import { freshKeyStore, serviceEnv, waitReady } from "../support/stack.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const HOST = "example.test";
const COMPONENT = { domain: "invites.example.test", secret: "package-test-secret" };

describe("the npm package, installed into an empty directory", () => {
  const work = mkdtempSync(join(tmpdir(), "invites-api-package-"));
  const prefix = join(work, "prefix");
  let installed = ""; // the installed copy's bin/invites-api.js
  let pkgDir = "";
  let installOutput = "";
  let prosody: RunningProsody | undefined;
  let service: RunningService | undefined;

  before(
    async () => {
      await run("npm", ["pack", "--pack-destination", work], { cwd: root, timeout: 180_000 });
      const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
      assert.ok(tarball, "npm pack made a tarball");
      // As the README says; a fresh prefix, so nothing of the checkout can be found from it.
      installOutput = await run(
        "npm",
        [
          "install",
          "-g",
          "--prefix",
          prefix,
          "--allow-scripts=better-sqlite3",
          "--no-audit",
          "--no-fund",
          join(work, tarball),
        ],
        { cwd: work, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
      ).then(({ stdout, stderr }) => stdout + stderr);
      pkgDir = join(prefix, "lib/node_modules/invites-api");
      installed = join(pkgDir, "bin/invites-api.js");
      // Least privilege, with the module as the package ships it (Prosody's user must see it).
      chmodSync(work, 0o755);
      prosody = await createProsody({
        hosts: [HOST],
        hostModules: MANAGE_MODULES,
        components: [COMPONENT],
        admins: [],
        extra: [
          `plugin_paths = { "${join(pkgDir, "prosody-config/modules")}", "${process.env.PROSODY_PLUGIN_PATH ?? "/usr/lib/prosody/modules"}" }`,
          `invites_manage_jids = { "${COMPONENT.domain}" }`,
          // The invite page's address names 127.0.0.1 (example.test is in no DNS): Prosody serves it as the host's.
          `http_default_host = "${HOST}"`,
        ].join("\n"),
      });
      const config = readFileSync(prosody.configPath, "utf8");
      const external = `http://${HOST}:${prosody.httpPort}/`;
      writeFileSync(prosody.configPath, config.replace(external, `http://127.0.0.1:${prosody.httpPort}/`));
      await prosody.start();
    },
    { timeout: 900_000 },
  );

  after(async () => {
    await service?.stop();
    await prosody?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it("holds the built service, the admin page, the Prosody module and the systemd files; no sources", () => {
    assert.ok(existsSync(join(prefix, "bin/invites-api")), "the invites-api command");
    for (const file of [
      "dist/main.js",
      "dist/http/admin/index.html",
      "prosody-config/modules/mod_invites_manage/mod_invites_manage.lua",
      "prosody-config/modules/mod_invites_manage/history.lib.lua",
      "packaging/systemd/invites-api.service",
      "packaging/systemd/invites-api.sysusers",
      "packaging/invites-api.env",
      "README.md",
      ...readdirSync(join(root, "docs"))
        .filter((name) => name.endsWith(".md"))
        .map((name) => `docs/${name}`),
      "LICENSE",
    ]) {
      assert.ok(existsSync(join(pkgDir, file)), `${file} in the package`);
    }
    for (const absent of ["src", "test", "web", "scripts", "node_modules/typescript", "node_modules/esbuild"]) {
      assert.ok(!existsSync(join(pkgDir, absent)), `${absent} not in the installed package`);
    }
    // The native addon, as npm installs it.
    assert.ok(existsSync(join(pkgDir, "node_modules/better-sqlite3/build/Release/better_sqlite3.node")));
  });

  it("installs with no script of its own to allow: npm warns about none", () => {
    const scripts =
      (JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { scripts?: object }).scripts ?? {};
    for (const hook of ["preinstall", "install", "postinstall", "prepare"]) {
      assert.ok(!(hook in scripts), `the package declares a ${hook} script`);
    }
    assert.doesNotMatch(installOutput, /install-scripts[^\n]*invites-api/);
  });

  it("--version prints the package's version", async () => {
    const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
    const { stdout } = await run(join(prefix, "bin/invites-api"), ["--version"]);
    assert.equal(stdout.trim(), version);
  });

  it("serves, and issues an invite Prosody accepts, with a key made by the installed CLI", async () => {
    assert.ok(prosody);
    const keyStore = freshKeyStore();
    const created = await runCli(["create", HOST, "from the package"], { KEY_STORE: keyStore }, installed);
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim().split("\n").at(-1) ?? "";
    service = await startService(serviceEnv(prosody, COMPONENT, keyStore), installed);
    await waitReady(service.url, 15_000);
    const res = await fetch(`${service.url}/invites_api`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}` },
    });
    assert.equal(res.status, 201);
    assert.ok(await inviteIsValid(res.headers.get("location") ?? "", prosody.httpPort));
    // The admin page comes from the package too.
    assert.equal((await fetch(`${service.url}/admin/`)).status, 200);
  });

  it("check, run from the package, finds the setup good", async () => {
    assert.ok(prosody);
    // Prosody takes one connection per component: the check runs with the service stopped.
    await service?.stop();
    service = undefined;
    const result = await runCli(["check", HOST], { ...serviceEnv(prosody, COMPONENT, freshKeyStore()) }, installed);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /least privilege/);
    assert.match(result.stdout, /invite page: answers/);
    assert.match(result.stdout, /all well/);
    assert.doesNotMatch(result.stdout + result.stderr, new RegExp(COMPONENT.secret));
  });
});
