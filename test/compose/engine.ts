import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Engine {
  /** Stops dockerd if this test started it; an engine that was already running is left alone. */
  stop(): Promise<void>;
}

async function answers(): Promise<boolean> {
  try {
    await run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Installs Docker from Debian's archive when it is missing (scripts/compose/install-engine.sh) and
 * starts dockerd when no engine answers, logging to `logDir/dockerd.log`.
 */
export async function startEngine(root: string, logDir: string): Promise<Engine> {
  await run("bash", [join(root, "scripts/compose/install-engine.sh")], { timeout: 300_000 });
  if (await answers()) return { stop: async () => {} };

  // A pid file left by a dockerd that died would stop a new one from starting.
  const pidFile = "/var/run/docker.pid";
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, "utf8"));
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      // not running
    }
    if (alive) throw new Error(`dockerd (pid ${pid}) runs but does not answer: stop it or fix it first`);
    rmSync(pidFile, { force: true });
  }

  const log = openSync(join(logDir, "dockerd.log"), "a");
  const dockerd = spawn("dockerd", ["--storage-driver=overlay2"], { stdio: ["ignore", log, log] });
  dockerd.unref();
  // Whatever happens to the test process, the engine it started does not outlive it.
  const onExit = () => dockerd.kill("SIGTERM");
  process.once("exit", onExit);

  const deadline = Date.now() + 60_000;
  while (!(await answers())) {
    if (dockerd.exitCode !== null || Date.now() > deadline) {
      dockerd.kill("SIGKILL");
      throw new Error(`dockerd did not start: see ${join(logDir, "dockerd.log")}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }

  return {
    async stop() {
      process.removeListener("exit", onExit);
      dockerd.kill("SIGTERM"); // dockerd stops its containers and its containerd on the way out
      if (!(await exited(dockerd, 45_000))) {
        dockerd.kill("SIGKILL");
        await exited(dockerd, 5_000);
      }
    },
  };
}
