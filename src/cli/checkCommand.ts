import { runCheck } from "../check/runCheck.js";
import { exitCodeOf, formatJson, formatText, redact } from "../check/report.js";
import { storeSecrets } from "../store/url.js";
import { loadServiceConfig } from "../config.js";
import type { Output } from "./keyCommands.js";

type Env = Record<string, string | undefined>;

/**
 * `invites-api check [HOST...]`: reads the configuration `serve` reads, checks it against Prosody
 * and the key store, prints one line per check (or JSON); resolves with the exit code.
 */
export async function check(
  env: Env,
  io: Output,
  hosts: readonly string[],
  { json, timeoutMs }: { json: boolean; timeoutMs: number },
): Promise<number> {
  const config = loadServiceConfig(env);
  const report = await runCheck(config, hosts, timeoutMs);
  const secrets = [config.component.secret, ...storeSecrets(config.keyStore)];
  const lines = json ? [formatJson(report)] : formatText(report);
  for (const line of lines) io.out(redact(line, secrets));
  return exitCodeOf(report);
}
