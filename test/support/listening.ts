import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const POLL_MS = 50;

function tryRead<T>(read: () => T, otherwise: T): T {
  try {
    return read();
  } catch {
    return otherwise; // the process exited, or closed the file meanwhile
  }
}

/**
 * The TCP ports process `pid` listens on, from /proc: the listening sockets of its network
 * namespace (/proc/PID/net/tcp, tcp6) whose inode is one of its open files (/proc/PID/fd). So a
 * port counts only when this process holds it, never when another process answers there.
 */
export function listeningPorts(pid: number): Set<number> {
  const inodes = new Set<string>();
  for (const fd of tryRead(() => readdirSync(`/proc/${pid}/fd`), [])) {
    const socket = /^socket:\[(\d+)\]$/.exec(tryRead(() => readlinkSync(`/proc/${pid}/fd/${fd}`), ""));
    if (socket?.[1]) inodes.add(socket[1]);
  }
  const ports = new Set<number>();
  for (const table of ["tcp", "tcp6"]) {
    for (const line of tryRead(() => readFileSync(`/proc/${pid}/net/${table}`, "utf8"), "")
      .split("\n")
      .slice(1)) {
      // sl, local_address (HEXADDRESS:HEXPORT), rem_address, st (0A: LISTEN), …, inode (the tenth).
      const fields = line.trim().split(/\s+/);
      const local = fields[1]?.split(":").at(-1);
      if (fields[3] === "0A" && local && inodes.has(fields[9] ?? "")) ports.add(parseInt(local, 16));
    }
  }
  return ports;
}

/**
 * Resolves once process `pid` listens on every port of `wanted` (each with a name, for the error).
 * `check` runs before each look and may throw (a server that says a port is in use).
 */
export async function untilListening(
  pid: number,
  wanted: Readonly<Record<string, number>>,
  timeoutMs: number,
  check: () => void = () => {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    check();
    const ports = listeningPorts(pid);
    const missing = Object.entries(wanted).filter(([, port]) => !ports.has(port));
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      const names = missing.map(([name, port]) => `${name} (port ${port})`).join(", ");
      throw new Error(`${names} not listened on by pid ${pid} within ${timeoutMs} ms`);
    }
    await sleep(POLL_MS);
  }
}

/** The one port process `pid` listens on, once it does: for a server given port 0. */
export async function boundPort(pid: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ports = [...listeningPorts(pid)];
    if (ports.length > 1) throw new Error(`pid ${pid} listens on several ports: ${ports.join(", ")}`);
    if (ports[0] !== undefined) return ports[0];
    if (Date.now() > deadline) throw new Error(`pid ${pid} listened on no port within ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}
