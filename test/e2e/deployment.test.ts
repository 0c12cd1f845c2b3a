import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chownSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { prosodyUser } from "../support/prosody.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const prosodyConfig = join(root, "prosody-config", "prosody.cfg.lua");

/**
 * prosodyctl reads the file as the prosody user, which may not see into the checkout (a private
 * temporary clone, say): check a copy in a folder it owns.
 */
function readableCopy(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "invites-api-cfg-"));
  const path = join(dir, "prosody.cfg.lua");
  writeFileSync(path, text);
  const owner = prosodyUser();
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(path, owner.uid, owner.gid);
  }
  return path;
}

async function checkConfig(text: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run("prosodyctl", ["--config", readableCopy(text), "check", "config"], {
      env: { ...process.env, COMPONENT_SECRET: "ci-check" },
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("prosody-config/prosody.cfg.lua", () => {
  it("passes `prosodyctl check config`", async () => {
    const result = await checkConfig(readFileSync(prosodyConfig, "utf8"));
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /All checks passed/);
  });

  it("would fail the check if it were broken (the check bites)", async () => {
    const broken = readFileSync(prosodyConfig, "utf8").replace('storage = "sql"', 'storage = "sql');
    assert.notEqual((await checkConfig(broken)).code, 0);
  });

  it("enables the invite modules, SQL storage and the component, in least privilege (not an admin)", () => {
    const text = readFileSync(prosodyConfig, "utf8");
    const modules = ["invites", "invites_adhoc", "invites_page", "invites_register", "invites_register_web"];
    for (const module of [...modules, "invites_manage"]) {
      assert.match(text, new RegExp(`^\\s*"${module}";`, "m"), module);
    }
    assert.match(text, /^storage = "sql"$/m);
    assert.match(text, /^network_settings = \{ nagle = false \}$/m, "replies without Nagle's 40 ms (BENCHMARKS.md)");
    assert.match(text, /^Component "invites\.example\.com"\n\s*component_secret = ENV_COMPONENT_SECRET$/m);
    assert.match(text, /^admins = \{ \}$/m);
    assert.match(text, /^invites_manage_jids = \{ "invites\.example\.com"[^}]*\}$/m);
    // The image ships the module where plugin_paths looks.
    assert.match(
      readFileSync(join(root, "prosody-config", "Dockerfile"), "utf8"),
      /^COPY modules\/ \/usr\/local\/lib\/prosody\/invites-api\/$/m,
    );
    assert.match(text, /^plugin_paths = \{ "\/usr\/local\/lib\/prosody\/invites-api" \}$/m);
  });
});

interface ComposeService {
  profiles?: string[];
  image?: string;
  build?: unknown;
  volumes: string[];
  environment: Record<string, string>;
  /** `docker-compose config` writes `IP:HOST:CONTAINER/tcp`, or the long form without an IP. */
  ports?: Array<string | { published?: number | string; target?: number | string; host_ip?: string }>;
}

/** The ports a service publishes on every interface of the host, as `HOST:CONTAINER`. */
function publishedEverywhere(service: ComposeService): string[] {
  return (service.ports ?? []).flatMap((port) => {
    if (typeof port === "string") return /^(\d+:\d+)(\/tcp)?$/.exec(port)?.slice(1, 2) ?? [];
    return port.host_ip || port.published === undefined ? [] : [`${port.published}:${port.target}`];
  });
}

describe("docker-compose.yml", () => {
  async function composeConfig(): Promise<{ services: Record<string, ComposeService>; volumes: object }> {
    const { stdout } = await run("docker-compose", ["-f", join(root, "docker-compose.yml"), "config"], {
      env: { ...process.env, COMPONENT_SECRET: "ci-check" },
    });
    return parse(stdout) as { services: Record<string, ComposeService>; volumes: object };
  }

  it("links each invite to the service's invite page, published on every interface as Prosody's pages are", async () => {
    const cfg = readFileSync(prosodyConfig, "utf8");
    const virtualHost = cfg.slice(cfg.indexOf('\nVirtualHost "example.com"\n'), cfg.indexOf('\nComponent "'));
    // The README's sed turns example.com into the domain; the page's path is /invite/HOST/TOKEN.
    const page = /^\s+invites_page = "http:\/\/example\.com:(\d+)\/invite\/\{host\}\/\{invite\.token\}"$/m.exec(
      virtualHost,
    );
    assert.ok(page, 'invites_page = "http://example.com:PORT/invite/{host}/{invite.token}" in the VirtualHost');
    const { prosody, "invites-api": api } = (await composeConfig()).services;
    assert.ok(prosody && api);
    assert.deepEqual(publishedEverywhere(api), [`${page[1]}:${api.environment.HTTP_PORT}`]);
    assert.deepEqual(publishedEverywhere(prosody).sort(), ["5222:5222", "5280:5280"]);
  });

  it("is valid for docker-compose and wires Prosody 13 to the component", async () => {
    const config = await composeConfig();
    const { prosody, "invites-api": api } = config.services;
    assert.ok(prosody && api);
    assert.ok(prosody.build, "Prosody is built from prosody-config/Dockerfile");
    assert.match(readFileSync(join(root, "prosody-config", "Dockerfile"), "utf8"), /^FROM prosodyim\/prosody:13/m);
    assert.ok(prosody.volumes.some((v) => v.includes("prosody.cfg.lua:/etc/prosody/prosody.cfg.lua")));
    assert.ok(prosody.volumes.some((v) => v.startsWith("prosody-data:")));
    assert.ok(api.build, "the component is built from the Dockerfile");
    assert.equal(api.environment.COMPONENT_SERVICE, "xmpp://prosody:5347");
    assert.ok(api.volumes.some((v) => v.startsWith("keys:/data")));
    assert.deepEqual(Object.keys(config.volumes).sort(), ["keys", "prosody-data", "redis-data"]);
  });

  it("has an optional profile with Redis and two instances, each with its own declared component JID", async () => {
    const { stdout } = await run(
      "docker-compose",
      ["-f", join(root, "docker-compose.yml"), "--profile", "shared", "config"],
      {
        env: { ...process.env, COMPONENT_SECRET: "ci-check" },
      },
    );
    const config = parse(stdout) as { services: Record<string, ComposeService> };
    const cfg = readFileSync(prosodyConfig, "utf8");
    const allowed = /^invites_manage_jids = \{([^}]*)\}$/m.exec(cfg)?.[1] ?? "";
    const instances = ["invites-api-a", "invites-api-b"].map((name) => config.services[name]);
    assert.ok(config.services.redis);
    const domains = instances.map((service) => {
      assert.match(service?.environment.KEY_STORE ?? "", /^redis:\/\/redis:6379$/);
      // Published with no proxy in front: X-Forwarded-For would be the client's own words.
      assert.equal(service?.environment.TRUST_PROXY, undefined, "TRUST_PROXY on a directly published instance");
      const domain = service?.environment.COMPONENT_DOMAIN ?? "";
      assert.match(cfg, new RegExp(`^Component "${domain.replace(/\./g, "\\.")}"$`, "m"), domain);
      assert.ok(allowed.includes(`"${domain}"`), `${domain} in invites_manage_jids`);
      return domain;
    });
    assert.notEqual(domains[0], domains[1]);
    for (const name of ["redis", "invites-api-a", "invites-api-b"]) {
      assert.deepEqual(config.services[name]?.profiles, ["shared"], `${name} runs only with --profile shared`);
    }
  });

  it("refuses to start without a component secret", async () => {
    await assert.rejects(
      run("docker-compose", ["-f", join(root, "docker-compose.yml"), "config", "-q"], {
        env: { PATH: process.env.PATH },
      }),
    );
  });

  it("builds the component in a multi-stage Dockerfile", () => {
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    assert.equal(dockerfile.match(/^FROM /gm)?.length, 2);
    assert.match(dockerfile, /^COPY --from=build \/app\/dist/m);
    assert.match(dockerfile, /^USER node$/m);
    // Every script `npm run build` runs (the admin page's, the invite page's) is in the build stage.
    const build = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: { build: string } })
      .scripts.build;
    const copied = /^COPY (scripts\/.*) \.\/scripts\/$/m.exec(dockerfile)?.[1]?.split(" ") ?? [];
    for (const script of build.match(/scripts\/\S+\.ts/g) ?? []) assert.ok(copied.includes(script), script);
  });
});
