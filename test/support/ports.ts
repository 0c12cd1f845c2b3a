import { readFileSync } from "node:fs";
import { createServer } from "node:net";

// Ports for the servers the tests start that cannot listen on port 0 and report the port they got
// (Prosody, redis-server, PostgreSQL), and for deliberately dead addresses. Node servers, the
// service included, listen on port 0 instead.
//
// They are taken at random below the kernel's ephemeral range (net.ipv4.ip_local_port_range), from
// which every bind to port 0 and every outgoing connection on the machine takes its port: none of
// those can take one of these, neither before the server binds it nor while a test has it stopped
// before starting it again. Another user of fixed ports still can: the server's own bind tells
// (PortInUseError), and a fresh start tries another port (onFreshPorts).

/** Clear of the well-known ports of servers a machine may run (5222, 5280, 5432, 6379, 8080). */
const LOWEST = 10_000;
const ATTEMPTS = 5;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (low > 0) return low;
  } catch {
    // not Linux: its default
  }
  return 32_768;
}

/** A port for a server to bind; only its bind tells whether it is free. */
export function serverPort(): number {
  // An ephemeral range that starts low leaves no room below it: any port then (a clash still shows).
  const highest = ephemeralLow() - LOWEST >= 1_000 ? ephemeralLow() - 1 : 65_535;
  return LOWEST + Math.floor(Math.random() * (highest - LOWEST + 1));
}

function canListen(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 nothing listens on, so that connections are refused: a deliberately dead address. */
export async function closedPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = serverPort();
    if (await canListen(port)) return port;
  }
  throw new Error("no closed port found in 20 tries");
}

/** A server could not listen on its port: another process holds it. */
export class PortInUseError extends Error {
  constructor(
    readonly server: string,
    readonly port: number,
    said: string,
  ) {
    super(`${server} could not listen on port ${port}, in use by another process; it said: ${said.trim()}`);
  }
}

/**
 * Runs `start` (which picks its ports with serverPort()) again while it fails with PortInUseError,
 * up to five times: only a start whose ports nobody was told of yet may move to other ports.
 */
export async function onFreshPorts<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt >= ATTEMPTS) throw err;
    }
  }
}
