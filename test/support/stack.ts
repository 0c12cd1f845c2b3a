import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunningProsody } from "./prosody.js";
import { runCli } from "./service.js";

export interface Component {
  readonly domain: string;
  readonly secret: string;
}

/** A fresh key store file in its own folder. */
export const freshKeyStore = (): string => join(mkdtempSync(join(tmpdir(), "invites-api-store-")), "keys.sqlite");

/** The environment `invites-api serve` needs to reach this Prosody as this component. */
export function serviceEnv(
  prosody: RunningProsody,
  component: Component,
  keyStore: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    KEY_STORE: keyStore,
    COMPONENT_SERVICE: `xmpp://127.0.0.1:${prosody.componentPort}`,
    COMPONENT_DOMAIN: component.domain,
    COMPONENT_SECRET: component.secret,
    ...extra,
  };
}

/** Creates a key with the CLI and returns the `ID/SECRET` it printed. */
export async function createKey(keyStore: string, host: string, ...args: string[]): Promise<string> {
  const result = await runCli(["create", host, ...args], { KEY_STORE: keyStore });
  if (result.code !== 0) throw new Error(`create failed: ${result.stderr}`);
  return result.stdout.trim().split("\n").at(-1) ?? "";
}

/** Polls GET /ready until it answers 200; resolves with the milliseconds it took. */
export async function waitReady(url: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const res = await fetch(`${url}/ready`).catch(() => undefined);
    if (res?.status === 200) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not ready within ${timeoutMs} ms`);
}
