import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import type { Command } from "commander";
import { ConfigError } from "../config.js";

/** The package's own version, from the package.json beside dist/ (or src/ when run from source). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/**
 * Options of every command: `--version`, and `--config FILE`, which reads settings from the file
 * the systemd unit uses (KEY=value lines) before the command runs. A variable already set in the
 * environment wins over the file. (Not `--env-file`: Node 20 takes that from anywhere in argv.)
 */
export function addGlobalOptions(program: Command, env: NodeJS.ProcessEnv): Command {
  program
    .version(packageVersion(), "-V, --version", "print the version")
    .option("--config <file>", "read settings (KEY=value lines) from FILE, e.g. /etc/invites-api/invites-api.env")
    .hook("preAction", () => {
      const file = program.opts<{ config?: string }>().config;
      if (file) loadEnvFile(file, env);
    });
  return program;
}

function loadEnvFile(file: string, env: NodeJS.ProcessEnv): void {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`--config ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] === undefined) env[name] = value;
  }
}
