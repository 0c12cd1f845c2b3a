// The test needs no free port on the host: a Prosody already on 5222 (Debian's prosody package starts
// one) or anything on 8080 must not fail it. An override cannot take the shipped ports away: Compose
// appends an override's `ports` to the base file's (1.29 does, and has no `!reset`), so the test
// rewrites its copy of docker-compose.yml instead and asks `docker-compose port` where each landed.
import { readFileSync, writeFileSync } from "node:fs";
import { isMap, isScalar, isSeq, parse, parseDocument } from "yaml";

/** `[IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]` → `127.0.0.1::CONTAINER_PORT[/PROTOCOL]`. */
function ephemeral(entry: string): string {
  const target = entry.slice(entry.lastIndexOf(":") + 1);
  if (!/^\d+(-\d+)?(\/\w+)?$/.test(target)) throw new Error(`not a port mapping Compose publishes: "${entry}"`);
  return `127.0.0.1::${target}`;
}

/**
 * Publishes every port of every service in `file` on an ephemeral port of 127.0.0.1, in place,
 * keeping the rest of the file (comments, anchors) as it is.
 */
export function publishOnEphemeralPorts(file: string): void {
  const doc = parseDocument(readFileSync(file, "utf8"));
  const services = doc.get("services");
  if (!isMap(services)) throw new Error(`${file} has no services`);
  for (const service of services.items) {
    const ports = isMap(service.value) ? service.value.get("ports") : undefined;
    if (ports === undefined) continue;
    if (!isSeq(ports)) throw new Error(`${file}: ports of ${String(service.key)} is not a list`);
    for (const item of ports.items) {
      // Only the short syntax: a long-syntax entry would need its own rewrite here.
      if (!isScalar(item) || typeof item.value !== "string") throw new Error(`${file}: a port entry is not a string`);
      item.value = ephemeral(item.value);
    }
  }
  writeFileSync(file, doc.toString({ lineWidth: 0, flowCollectionPadding: false }));
}

/** Whether a `ports` entry of `docker-compose config` names its host port (`[IP:]HOST:CONTAINER`). */
function fixed(port: unknown): boolean {
  if (typeof port !== "string") return (port as { published?: unknown }).published !== undefined;
  const parts = port.replace(/^\[[^\]]*\]/, "ip").split(":"); // an IPv6 address has colons of its own
  return parts.length > 1 && parts[parts.length - 2] !== "";
}

/** The entries of `docker-compose config` that would still need a given host port to be free. */
export function fixedHostPorts(config: string): string[] {
  const services = (parse(config) as { services?: Record<string, { ports?: unknown[] }> }).services ?? {};
  return Object.entries(services).flatMap(([name, service]) =>
    (service.ports ?? []).filter(fixed).map((port) => `${name} ${JSON.stringify(port)}`),
  );
}
