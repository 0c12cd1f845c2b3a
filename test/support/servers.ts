import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { terminate, track } from "./cleanup.js";
import { untilListening } from "./listening.js";
import { onFreshPorts, PortInUseError, serverPort } from "./ports.js";

/**
 * Redis or PostgreSQL from Debian's packages, started by a test on a loopback port. Neither can
 * listen on port 0 and tell which port it got (Redis takes port 0 for "no TCP"; PostgreSQL's
 * `port` is 1 to 65535): each is given a port (ports.ts), and a start that finds it in use, by the
 * server's own words, tries another.
 */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (it can be started again with start(), on the same port). */
  stop(): Promise<void>;
  /**
   * Sends a signal to the server and every process it started (PostgreSQL's backends), without
   * waiting: SIGSTOP freezes it, connections open and unanswered; SIGCONT thaws it.
   */
  signal(signal: NodeJS.Signals): void;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

function owner(user: string): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return {
    uid: Number(execFileSync("id", ["-u", user], { encoding: "utf8" })),
    gid: Number(execFileSync("id", ["-g", user], { encoding: "utf8" })),
  };
}

function asUser(who: { uid: number; gid: number } | undefined, argv: string[]): string[] {
  return who ? ["setpriv", `--reuid=${who.uid}`, `--regid=${who.gid}`, "--init-groups", ...argv] : argv;
}

/** A process and every process under it, from `ps`. */
function withDescendants(pid: number): number[] {
  const rows = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((row) => row.trim().split(/\s+/).map(Number) as [number, number]);
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    for (const [child, parent] of rows) if (parent === found[i]) found.push(child);
  }
  return found;
}

const START_TIMEOUT_MS = 20_000;
/** What a server printed, kept up to this size: the reason it stopped is near the start. */
const OUTPUT_KEPT = 64 * 1024;

/**
 * A server process; start() resolves once the process itself listens on `port` (another process
 * answering there does not count) and `answers` says it answers. A server that dies or never gets
 * ready is stopped, and start() throws, naming it: PortInUseError when it said its port is in use.
 */
function managed(
  name: string,
  argv: string[],
  port: number,
  url: string,
  dir: string,
  stopSignal: NodeJS.Signals,
  answers: (deadline: number) => Promise<void> = async () => {},
): RunningServer {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const signal = (sig: NodeJS.Signals) => {
    const pid = child?.exitCode === null && child.signalCode === null ? child.pid : undefined;
    if (pid === undefined) return;
    for (const each of withDescendants(pid)) {
      try {
        process.kill(each, sig);
      } catch {
        // Gone since ps listed it (a backend whose client left).
      }
    }
  };
  const stop = async () => {
    // A frozen server would sit out the grace period before SIGKILL.
    signal("SIGCONT");
    if (child) await terminate(child, exited, stopSignal);
  };
  const start = async () => {
    const [bin, ...args] = argv as [string, ...string[]];
    // Read all along: a server whose pipe is full stops.
    child = track(spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] }));
    const proc = child;
    let output = "";
    const keep = (chunk: Buffer) => {
      if (output.length < OUTPUT_KEPT) output += chunk.toString();
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    // Its last words may still be in the pipe when it exits.
    const closed = once(proc, "close").catch(() => undefined);
    const died = exited
      .then(() => Promise.race([closed, sleep(1_000)]))
      .then(() => {
        const inUse = /^.*address already in use.*$/im.exec(output);
        if (inUse) throw new PortInUseError(name, port, inUse[0]);
        // By its name: as root, `bin` is setpriv.
        throw new Error(`${name} exited at start (code ${proc.exitCode}, signal ${proc.signalCode}):\n${output}`);
      });
    died.catch(() => undefined);
    const deadline = Date.now() + START_TIMEOUT_MS;
    const ready = async () => {
      await untilListening(proc.pid ?? 0, { [name]: port }, START_TIMEOUT_MS);
      await answers(deadline);
    };
    try {
      await Promise.race([ready(), died]);
    } catch (err) {
      await stop();
      throw err;
    }
  };
  return {
    url,
    port,
    start,
    stop,
    signal,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Redis on a port of its own (a new one for each start that finds its port in use). */
export function startRedis(): Promise<RunningServer> {
  return onFreshPorts(async () => {
    const port = serverPort();
    const dir = mkdtempSync(join(tmpdir(), "invites-api-redis-"));
    const argv = [
      "redis-server",
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ];
    const server = managed("Redis", argv, port, `redis://127.0.0.1:${port}`, dir, "SIGTERM");
    try {
      await server.start();
    } catch (err) {
      await server.dispose();
      throw err;
    }
    return server;
  });
}

/**
 * Waits until PostgreSQL answers a query: its port opens while it still refuses clients with
 * "the database system is starting up".
 */
async function postgresAnswers(url: string, deadline: number): Promise<void> {
  let last: unknown;
  while (Date.now() < deadline) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      return;
    } catch (err) {
      last = err;
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(100);
  }
  throw new Error(`PostgreSQL did not answer SELECT 1 in time: ${String(last)}`);
}

function postgresBin(name: string): string {
  const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  return join("/usr/lib/postgresql", versions[0], "bin", name);
}

/**
 * PostgreSQL in a fresh cluster (initdb once), on a port of its own (a new one for each start that
 * finds its port in use).
 */
export async function startPostgres(): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), "invites-api-postgres-"));
  const who = owner("postgres");
  if (who) chownSync(dir, who.uid, who.gid);
  const data = join(dir, "data");
  const [initBin, ...initArgs] = asUser(who, [
    postgresBin("initdb"),
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=trust",
    "-E",
    "UTF8",
  ]) as [string, ...string[]];
  try {
    execFileSync(initBin, initArgs, { stdio: "ignore" });
    return await onFreshPorts(async () => {
      const port = serverPort();
      const argv = asUser(who, [
        postgresBin("postgres"),
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        // Its messages in English, whatever the machine's locale: "Address already in use" is read.
        "-c",
        "lc_messages=C",
      ]);
      // SIGINT: PostgreSQL's fast shutdown, which does not wait for clients to leave.
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      const server = managed("PostgreSQL", argv, port, url, dir, "SIGINT", (deadline) =>
        postgresAnswers(url, deadline),
      );
      await server.start();
      return server;
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
