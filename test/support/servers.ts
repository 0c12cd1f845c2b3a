import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { terminate, track } from "./cleanup.js";
import { freePort } from "./ports.js";
import { waitForPort } from "./prosody.js";

/** Redis or PostgreSQL from Debian's packages, started by a test on a free loopback port. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (it can be started again with start()). */
  stop(): Promise<void>;
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

const START_TIMEOUT_MS = 20_000;

/**
 * A server process; start() resolves once `ready` says it answers (by default: its port is open).
 * A server that dies or never gets ready is stopped, and start() throws, naming it.
 */
function managed(
  name: string,
  argv: string[],
  port: number,
  url: string,
  dir: string,
  stopSignal: NodeJS.Signals,
  ready: (deadline: number) => Promise<void> = (deadline) => waitForPort(port, deadline - Date.now(), name),
): RunningServer {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const stop = async () => {
    if (child) await terminate(child, exited, stopSignal);
  };
  const start = async () => {
    const [bin, ...args] = argv as [string, ...string[]];
    child = track(spawn(bin, args, { stdio: "ignore" }));
    const proc = child;
    exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    const died = exited.then(() => {
      // By its name: as root, `bin` is setpriv.
      throw new Error(`${name} exited at start (code ${proc.exitCode}, signal ${proc.signalCode})`);
    });
    died.catch(() => undefined);
    try {
      await Promise.race([ready(Date.now() + START_TIMEOUT_MS), died]);
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
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startRedis(): Promise<RunningServer> {
  const port = await freePort();
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
  await startOrDispose(server);
  return server;
}

async function startOrDispose(server: RunningServer): Promise<void> {
  try {
    await server.start();
  } catch (err) {
    await server.dispose();
    throw err;
  }
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

export async function startPostgres(): Promise<RunningServer> {
  const port = await freePort();
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
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
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
  ]);
  // SIGINT: PostgreSQL's fast shutdown, which does not wait for clients to leave.
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const server = managed("PostgreSQL", argv, port, url, dir, "SIGINT", (deadline) => postgresAnswers(url, deadline));
  await startOrDispose(server);
  return server;
}
