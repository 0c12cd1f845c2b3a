import type { ServiceConfig } from "../config.js";
import type { AdhocContext } from "../xmpp/adhoc.js";
import { ConnectFailure, connectOnce } from "./connect.js";
import { checkHost } from "./hostChecks.js";
import { reasonOf, type Check, type CheckReport, type HostsSource } from "./report.js";
import { describeStore } from "../store/url.js";
import { checkStore } from "./storeCheck.js";

const HOST_CHECKS = ["version", "commands", "mode", "invites_manage", "modules", "invite page"];

/** The hosts named, else those with keys, else the component domain's parent (invites.example.com: example.com). */
function chooseHosts(named: readonly string[], withKeys: readonly string[] | undefined, domain: string) {
  if (named.length > 0) return { from: "command line" as HostsSource, hosts: [...new Set(named)] };
  if (withKeys?.length) return { from: "key store" as HostsSource, hosts: [...withKeys] };
  const parent = domain.includes(".") ? domain.slice(domain.indexOf(".") + 1) : domain;
  return { from: "component domain" as HostsSource, hosts: [parent] };
}

/**
 * `invites-api check`: the key store, then one component connection (no retry), then each host
 * through it. Every wait is bounded by timeoutMs.
 */
export async function runCheck(
  config: ServiceConfig,
  named: readonly string[],
  timeoutMs: number,
): Promise<CheckReport> {
  const { service, domain, secret } = config.component;
  const store = await checkStore(config.keyStore, timeoutMs);
  const { from, hosts } = chooseHosts(named, store.hosts, domain);
  const base = { keyStore: { ...describeStore(config.keyStore), checks: store.checks }, hostsFrom: from };

  let connection;
  try {
    connection = await connectOnce({ service, domain, secret, timeoutMs });
  } catch (err) {
    const fix = err instanceof ConnectFailure ? err.fix : "see Prosody's log";
    const failed: Check = { name: "connection", status: "fail", detail: reasonOf(err), fix };
    const notRun = (name: string): Check => ({
      name,
      status: "skip",
      detail: "not run: the component is not connected",
    });
    return {
      ...base,
      component: { service, domain, checks: [failed] },
      hosts: hosts.map((host) => ({ host, checks: HOST_CHECKS.map(notRun) })),
    };
  }
  try {
    const ctx: AdhocContext = { request: connection.request, componentJid: domain, timeoutMs };
    const connected: Check = { name: "connection", status: "ok", detail: `connected as ${domain}, secret accepted` };
    const results = [];
    for (const host of hosts) results.push({ host, checks: await checkHost(ctx, host) });
    return { ...base, component: { service, domain, checks: [connected] }, hosts: results };
  } finally {
    await connection.close();
  }
}
