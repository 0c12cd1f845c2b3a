import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chownSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { recordKeysIn, recordLog, recordSecret } from "./handedOut.js";
import { terminate, track } from "./cleanup.js";
import { untilListening } from "./listening.js";
import { onFreshPorts, PortInUseError, serverPort } from "./ports.js";

/** A throwaway Prosody on loopback ports, with SQL storage, for tests, the try-out and the benchmark. */
export interface HostOptions {
  readonly modules?: readonly string[];
  /** A per-host `admins` line. */
  readonly admins?: readonly string[];
  /** More Lua lines under the VirtualHost. */
  readonly lines?: readonly string[];
}

export interface ProsodyOptions {
  readonly hosts: readonly string[];
  /** Settings of single hosts, by name. */
  readonly hostOptions?: Readonly<Record<string, HostOptions>>;
  readonly components: ReadonlyArray<{ domain: string; secret: string }>;
  /** JIDs listed in the global `admins`; by default every component. */
  readonly admins?: readonly string[];
  /** Modules per VirtualHost; by default the invite suite. */
  readonly hostModules?: readonly string[];
  readonly storage?: "sql" | "internal";
  /** Stores handed to another driver, e.g. `{ accounts: "yielding" }` (TEST_MODULES): the rest stay on `storage`. */
  readonly storeDrivers?: Readonly<Record<string, string>>;
  /** Extra global Lua lines. */
  readonly extra?: string;
  /** Prosody's log level (the log file is in its folder); debug by default, for the tests' checks. */
  readonly logLevel?: "debug" | "info" | "warn";
}

export interface RunningProsody {
  readonly dir: string;
  readonly dataDir: string;
  readonly configPath: string;
  readonly componentPort: number;
  /** The client-to-server (c2s) port, plain TCP on 127.0.0.1 (TLS is disabled). */
  readonly c2sPort: number;
  readonly httpPort: number;
  readonly pid: () => number | undefined;
  /** Restarts a stopped or killed Prosody on the same ports and data. */
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Runs `prosodyctl --config … ARGS` as Prosody's user; resolves with its stdout. */
  ctl(args: readonly string[]): string;
  /** Sends a signal without waiting (SIGSTOP/SIGCONT to freeze and thaw Prosody). */
  signal(signal: NodeJS.Signals): void;
  /** Stops Prosody and removes its folder. */
  dispose(): Promise<void>;
  log(): string;
}

// invites_register_web is loaded only by webRegistration.prosody.test.ts (support/webRegister.ts): on 0.12 it needs
// mod_password_policy, which only the backports prosody-modules ships.
/** The project's own Prosody modules (mod_invites_manage), copied beside each test Prosody's config. */
export const PROJECT_MODULES = fileURLToPath(new URL("../../prosody-config/modules", import.meta.url));
/** Prosody modules for tests only (mod_storage_yielding, mod_command_trace), copied beside the project's. */
export const TEST_MODULES = fileURLToPath(new URL("./prosody-modules", import.meta.url));

/**
 * The most writes to `store` that mod_storage_yielding (TEST_MODULES) held at once in a Prosody's
 * `log`: for accounts, registrations past user-registering and not yet registered, all at once.
 */
export function mostWritesHeldAtOnce(log: string, store = "accounts"): number {
  const held = Array.from(log.matchAll(new RegExp(`Write to ${store}: holding (\\d+) writes at once`, "g")));
  return Math.max(0, ...held.map((m) => Number(m[1])));
}

const BUSY_WAIT_MS = 200;
const BUSY_DEADLINE_MS = 10_000;

/**
 * Runs a prosodyctl write as SQLite's busy timeout would: Prosody opens SQLite with none (0.12's and
 * 13's util/sql), so a prosodyctl write in another process while the running server writes fails
 * at once with "database is locked" and changes nothing (its transaction is rolled back). The
 * server does write unprompted: 13's mod_cron saves its tasks' run times 1 s after start, and
 * mod_invites_manage prunes its history hourly. Only that failure is waited out, until a deadline.
 */
function withBusyTimeout(run: () => string): string {
  const deadline = Date.now() + BUSY_DEADLINE_MS;
  for (;;) {
    try {
      return run();
    } catch (err) {
      const output = String((err as { stdout?: unknown }).stdout ?? "");
      if (!output.includes("database is locked") || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, BUSY_WAIT_MS);
    }
  }
}

export const INVITE_MODULES = ["invites", "invites_adhoc", "invites_page", "invites_register"];
/** The invite suite with this project's module, for least privilege. */
export const MANAGE_MODULES = [...INVITE_MODULES, "invites_manage"];

const lua = (value: string) => JSON.stringify(value);
const luaList = (values: readonly string[]) => `{ ${values.map(lua).join(", ")} }`;

export function prosodyConfig(
  opts: ProsodyOptions,
  paths: { dir: string; dataDir: string },
  ports: { c2s: number; component: number; http: number },
): string {
  const admins = opts.admins ?? opts.components.map((c) => c.domain);
  const lines = [
    `pidfile = ${lua(join(paths.dir, "prosody.pid"))}`,
    `data_path = ${lua(paths.dataDir)}`,
    // Prosody 13 gets a folder of community modules only (see scripts/with-prosody13.sh).
    `plugin_paths = { ${lua(join(paths.dir, "modules"))}, ${lua(process.env.PROSODY_PLUGIN_PATH ?? "/usr/lib/prosody/modules")} }`,
    `log = { { levels = { min = ${lua(opts.logLevel ?? "debug")} }, to = "file", filename = ${lua(join(paths.dir, "prosody.log"))} } }`,
    `interfaces = { "127.0.0.1" }`,
    `local_interfaces = { "127.0.0.1" }`,
    `c2s_ports = { ${ports.c2s} }`,
    // s2s is disabled: no port.
    `s2s_ports = { }`,
    `component_interfaces = { "127.0.0.1" }`,
    `component_ports = { ${ports.component} }`,
    `http_interfaces = { "127.0.0.1" }`,
    `http_ports = { ${ports.http} }`,
    `https_ports = { }`,
    `c2s_require_encryption = false`,
    `authentication = "internal_hashed"`,
    `modules_enabled = { "disco", "roster", "saslauth", "register" }`,
    `modules_disabled = { "s2s", "tls" }`,
    `allow_registration = false`,
    opts.storage === "internal" ? "" : `sql = { driver = "SQLite3", database = "prosody.sqlite" }`,
    // With storeDrivers, the named stores go to their driver and the rest to the default.
    opts.storeDrivers
      ? `default_storage = ${lua(opts.storage ?? "sql")}\nstorage = { ${Object.entries(opts.storeDrivers)
          .map(([store, driver]) => `[${lua(store)}] = ${lua(driver)}`)
          .join(", ")} }`
      : `storage = ${lua(opts.storage ?? "sql")}`,
    `admins = ${luaList(admins)}`,
    opts.extra ?? "",
    "",
  ];
  for (const host of opts.hosts) {
    const hostOptions = opts.hostOptions?.[host] ?? {};
    lines.push(
      `VirtualHost ${lua(host)}`,
      `  http_external_url = ${lua(`http://${host}:${ports.http}/`)}`,
      `  modules_enabled = ${luaList(hostOptions.modules ?? opts.hostModules ?? INVITE_MODULES)}`,
      hostOptions.admins ? `  admins = ${luaList(hostOptions.admins)}` : "",
      ...(hostOptions.lines ?? []).map((line) => `  ${line}`),
      "",
    );
  }
  for (const component of opts.components) {
    lines.push(`Component ${lua(component.domain)}`, `  component_secret = ${lua(component.secret)}`, "");
  }
  return lines.join("\n");
}

export function prosodyUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "prosody"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "prosody"], { encoding: "utf8" }).trim());
  return { uid, gid };
}

/** Gives a folder and everything in it to `owner` (Prosody's user, which must read and write it). */
export function chownTree(path: string, owner: { uid: number; gid: number }): void {
  chownSync(path, owner.uid, owner.gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, owner);
    else chownSync(child, owner.uid, owner.gid);
  }
}

/**
 * Starts Prosody 0.12 (Debian's `prosody`); PROSODY_BIN may name another launcher, e.g. 13's. A
 * start that finds one of its ports in use is made again on other ports: nobody knows them yet.
 */
export function startProsody(opts: ProsodyOptions): Promise<RunningProsody> {
  return onFreshPorts(async () => {
    const prosody = await createProsody(opts);
    try {
      await prosody.start();
    } catch (err) {
      await prosody.dispose();
      throw err;
    }
    return prosody;
  });
}

// Prosody takes port 0 for one service only (portmanager refuses a second service on [127.0.0.1]:0,
// 0.12 and 13), and names no port it got: each service gets a port of its own (ports.ts).
const IN_USE = /^.*Failed to open server port (\d+) on \S+, this port is in use.*$/m;

/**
 * Prepares a Prosody (folder, config, ports) without starting it: start() when the test wants it.
 * Its ports are fixed from now on (a test may hand them out before it starts Prosody).
 */
export async function createProsody(opts: ProsodyOptions): Promise<RunningProsody> {
  for (const component of opts.components) recordSecret("component secret", component.secret);
  const dir = mkdtempSync(join(tmpdir(), "invites-api-prosody-"));
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  const ports = { c2s: serverPort(), component: serverPort(), http: serverPort() };
  const configPath = join(dir, "prosody.cfg.lua");
  writeFileSync(configPath, prosodyConfig(opts, { dir, dataDir }, ports));
  // A copy, because Prosody's user may not see into the checkout (a private temporary clone, say).
  cpSync(PROJECT_MODULES, join(dir, "modules"), { recursive: true });
  // The test-only modules (TEST_MODULES) too: they do nothing unless a test enables them.
  cpSync(TEST_MODULES, join(dir, "modules"), { recursive: true });
  const owner = prosodyUser();
  if (owner) chownTree(dir, owner);

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launcher = (process.env.PROSODY_BIN ?? "prosody").split(" ");
  const command = owner
    ? ["setpriv", `--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--init-groups", ...launcher]
    : launcher;

  /**
   * Starts Prosody and waits until it listens on its ports itself; if it dies, says a port is in
   * use (PortInUseError) or does not listen in time, it is stopped and this throws.
   */
  async function start(): Promise<void> {
    // Only this start's lines: the log file grows over restarts.
    const logFrom = readLog().length;
    const [bin, ...args] = command as [string, ...string[]];
    child = track(spawn(bin, [...args, "--config", configPath, "-F"], { stdio: ["ignore", "ignore", "pipe"] }));
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const proc = child;
    exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    const died = exited.then(() => {
      throw new Error(`prosody exited at start: ${stderr}\n${readLog()}`);
    });
    // Heard at once: Prosody dying later (a test's kill) is no unhandled rejection.
    died.catch(() => undefined);
    try {
      const wanted: Record<string, number> = { "Prosody's c2s port": ports.c2s, "Prosody's HTTP port": ports.http };
      if (opts.components.length > 0) wanted["Prosody's component port"] = ports.component;
      // Prosody goes on without a port it could not open: its log says so.
      const portsFree = () => {
        const inUse = IN_USE.exec(readLog().slice(logFrom));
        if (inUse) throw new PortInUseError("Prosody", Number(inUse[1]), inUse[0]);
      };
      await Promise.race([untilListening(proc.pid ?? 0, wanted, 15_000, portsFree), died]);
      // The run for a Prosody version must really use it (PROSODY_VERSION is set by the npm scripts).
      const expected = process.env.PROSODY_VERSION;
      if (expected && !new RegExp(`Prosody version ${expected.replace(/\./g, "\\.")}`).test(readLog())) {
        throw new Error(`expected Prosody ${expected}; its log says: ${/Prosody version \S+/.exec(readLog())?.[0]}`);
      }
    } catch (err) {
      await kill("SIGKILL");
      throw err;
    }
  }

  function readLog(): string {
    try {
      return readFileSync(join(dir, "prosody.log"), "utf8");
    } catch {
      return "";
    }
  }

  async function kill(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (child) await terminate(child, exited, signal);
  }

  return {
    dir,
    dataDir,
    configPath,
    componentPort: ports.component,
    c2sPort: ports.c2s,
    httpPort: ports.http,
    pid: () => child?.pid,
    start,
    kill,
    signal: (signal) => void child?.kill(signal),
    ctl: (args) => {
      const ctl = (process.env.PROSODYCTL_BIN ?? "prosodyctl").split(" ");
      const full = owner ? ["setpriv", `--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--init-groups", ...ctl] : ctl;
      const [bin, ...rest] = full as [string, ...string[]];
      const stdout = withBusyTimeout(() =>
        execFileSync(bin, [...rest, "--config", configPath, ...args], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        }),
      );
      // mod_invites_api's `create` prints a key, as ours does.
      recordKeysIn(stdout);
      return stdout;
    },
    log: readLog,
    async dispose() {
      if (child?.signalCode === null && child.exitCode === null) child.kill("SIGCONT");
      await kill("SIGTERM");
      recordLog("prosody", readLog());
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
