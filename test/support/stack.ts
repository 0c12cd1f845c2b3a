import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startProsody, type ProsodyOptions, type RunningProsody } from "./prosody.js";
import { closedPort, onFreshPorts, PortInUseError, serverPort } from "./ports.js";
import { runCli, startService, type RunningService } from "./service.js";

export interface Component {
  readonly domain: string;
  readonly secret: string;
}

/** A fresh key store file in its own folder. */
export const freshKeyStore = (): string => join(mkdtempSync(join(tmpdir(), "invites-api-store-")), "keys.sqlite");

/**
 * Every file in the SQLite key store's folder, as bytes: keys.sqlite and, in WAL mode, keys.sqlite-wal
 * and keys.sqlite-shm, where the latest records are until a checkpoint.
 */
export function keyStoreFiles(keyStore: string): Array<{ name: string; bytes: Buffer }> {
  const dir = dirname(keyStore);
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => ({ name: entry.name, bytes: readFileSync(join(dir, entry.name)) }));
}

/** The names of the files that hold `text`. */
export const filesHolding = (files: ReadonlyArray<{ name: string; bytes: Buffer }>, text: string): string[] =>
  files.filter((file) => file.bytes.includes(Buffer.from(text))).map((file) => file.name);

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

export interface Stack {
  readonly prosody: RunningProsody;
  readonly service: RunningService;
  readonly keyStore: string;
}

export type RunningStack = Stack & { stop(): Promise<void> };

/**
 * Starts a fresh Prosody and a fresh service (connected as `component`, with its own key store),
 * ready unless `ready: false`; `stop()` takes both down. A failed start stops what did start.
 */
export async function startStack(
  prosodyOptions: ProsodyOptions,
  opts: { component: Component; env?: Record<string, string>; ready?: boolean },
): Promise<RunningStack> {
  const prosody = await startProsody(prosodyOptions);
  let service: RunningService | undefined;
  const stop = async () => {
    prosody.signal("SIGCONT"); // a test may have frozen it
    await service?.stop();
    await prosody.dispose();
  };
  try {
    const keyStore = freshKeyStore();
    service = await startService(serviceEnv(prosody, opts.component, keyStore, opts.env));
    if (opts.ready !== false) await waitReady(service.url, 10_000);
    return { prosody, service, keyStore, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * startStack with the service on a port picked first, for what must name it before the service
 * starts (Prosody's config, PUBLIC_URL); one another process holds means a fresh start on other ports.
 */
function startStackOnPort(start: (port: number) => Promise<RunningStack>): Promise<RunningStack> {
  return onFreshPorts(async () => {
    const port = serverPort();
    try {
      return await start(port);
    } catch (err) {
      if (/EADDRINUSE/.test(String(err))) throw new PortInUseError("invites-api", port, String(err));
      throw err;
    }
  });
}

/**
 * startStack with the service's invite page as Prosody's invites_page, as the docs have it (invite
 * links open /invite/HOST/TOKEN on the service).
 */
export function startStackWithInvitePage(
  prosodyOptions: ProsodyOptions,
  opts: { component: Component; env?: Record<string, string>; ready?: boolean },
): Promise<RunningStack> {
  return startStackOnPort((port) => {
    const invitesPage = `invites_page = "http://127.0.0.1:${port}/invite/{host}/{invite.token}"`;
    return startStack(
      { ...prosodyOptions, extra: [prosodyOptions.extra, invitesPage].filter(Boolean).join("\n") },
      { ...opts, env: { ...opts.env, HTTP_PORT: String(port) } },
    );
  });
}

/** startStack with people's sign-in on: PUBLIC_URL is the service's own loopback address. */
export async function startStackWithSignIn(
  prosodyOptions: ProsodyOptions,
  opts: { component: Component; env?: Record<string, string> },
): Promise<RunningStack & { readonly publicUrl: string }> {
  let publicUrl = "";
  const stack = await startStackOnPort((port) => {
    publicUrl = `http://127.0.0.1:${port}`;
    return startStack(prosodyOptions, {
      ...opts,
      env: { ...opts.env, HTTP_PORT: String(port), PUBLIC_URL: publicUrl },
    });
  });
  return { ...stack, publicUrl };
}

/** The service with nothing listening for its component: for tests of keys alone, no XMPP. */
export async function startServiceWithoutXmpp(env: Record<string, string>): Promise<RunningService> {
  return startService({
    ...env,
    COMPONENT_SERVICE: `xmpp://127.0.0.1:${await closedPort()}`,
    COMPONENT_DOMAIN: "invites.example.test",
    // Never sent, but a secret the log scan looks for all the same: long enough to find.
    COMPONENT_SECRET: "unused-component-secret",
    AUTH_FAILURE_LIMIT: "off",
  });
}

/**
 * Runs a test against a fresh Prosody and a fresh service (connected as `component`, with its own
 * key store), and takes both down afterwards, whatever the test did to them.
 */
export async function withStack(
  prosodyOptions: ProsodyOptions,
  opts: { component: Component; env?: Record<string, string>; ready?: boolean },
  test: (stack: Stack) => Promise<void>,
): Promise<void> {
  const stack = await startStack(prosodyOptions, opts);
  try {
    await test(stack);
  } finally {
    await stack.stop();
  }
}
