import { execFile } from "node:child_process";
import { cpSync, mkdirSync } from "node:fs";
import { relative } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** What is not part of a deployment: never copied into the test's checkout. */
const skipped = new Set(["node_modules", ".git", "dist", "data", "test", "scratch", ".try", ".env", "coverage"]);

export interface Deployment {
  dir: string;
  /** Runs `docker-compose ARGS` in the deployment folder; rejects with the output on failure. */
  compose(args: string[], timeoutMs?: number): Promise<string>;
  /** Runs a shell command in the deployment folder, as a person following the README would. */
  sh(command: string): Promise<string>;
  /**
   * Where the host reaches `port` of `service`, from `docker-compose port`: the test publishes on
   * ephemeral ports (ports.ts), which change when a container starts again.
   */
  published(service: string, port: number): Promise<{ host: string; port: number }>;
}

/**
 * Copies the checkout's deployment (compose file, Dockerfiles, prosody-config, the service's
 * sources) into `dir`, so that the README's steps (.env, domain, certificates) change a copy and
 * never the working tree. Compose runs it under its own project name, with the test-only override.
 */
export function copyDeployment(root: string, dir: string, env: Record<string, string>): Deployment {
  mkdirSync(dir, { recursive: true });
  cpSync(root, dir, {
    recursive: true,
    filter: (source) => {
      const path = relative(root, source);
      if (path === "") return true;
      if (skipped.has(path.split("/")[0] ?? "")) return false;
      // Somebody's own certificates stay where they are.
      return !(path.startsWith("prosody-config/certs/") && path !== "prosody-config/certs/.gitignore");
    },
  });
  const options = { cwd: dir, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 };
  const outcome = async (file: string, args: string[], timeout: number) => {
    try {
      const { stdout, stderr } = await run(file, args, { ...options, timeout });
      // The notes first: a command's own output ends it (`create`'s key alone on its last line).
      return stderr + stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${file} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
  };
  const compose = (args: string[], timeoutMs = 120_000) => outcome("docker-compose", args, timeoutMs);
  return {
    dir,
    compose,
    sh: (command) => outcome("bash", ["-euo", "pipefail", "-c", command], 60_000),
    async published(service, port) {
      // `IP:PORT`; an empty line (or `:0`) when the container does not run or does not publish it.
      const output = await compose(["--profile", "shared", "port", service, String(port)]);
      const match = /^(\S+):([1-9]\d*)$/m.exec(output);
      if (!match) throw new Error(`${service} does not publish ${port}: "${output.trim()}"`);
      return { host: match[1] ?? "", port: Number(match[2]) };
    },
  };
}

/** The last line of `invites-api create`: the key, `ID/SECRET`. */
export function keyFrom(output: string): { id: string; key: string } {
  const key = output.trim().split("\n").pop()?.trim() ?? "";
  const id = key.split("/")[0] ?? "";
  if (!/^[^/\s]+\/[^/\s]+$/.test(key)) throw new Error(`no key in: ${output}`);
  return { id, key };
}
