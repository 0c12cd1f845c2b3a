/**
 * What `invites-api check` found, and its two renderings: one line per check for a person, one
 * JSON object for a script. Neither ever holds a secret (see redact()).
 */

/** ok; note: well, with something worth knowing; fail: to fix; skip: not run, because of a failure before it. */
export type CheckStatus = "ok" | "note" | "fail" | "skip";

export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
  /** What to change, with the line to write: for a failure, or the better way for a note. */
  readonly fix?: string;
}

/** Where the hosts checked came from. */
export type HostsSource = "command line" | "key store" | "component domain";

export interface CheckReport {
  readonly component: { readonly service: string; readonly domain: string; readonly checks: readonly Check[] };
  readonly keyStore: { readonly kind: string; readonly location: string; readonly checks: readonly Check[] };
  readonly hostsFrom: HostsSource;
  readonly hosts: ReadonlyArray<{ readonly host: string; readonly checks: readonly Check[] }>;
}

const LABELS: Record<CheckStatus, string> = { ok: "ok  ", note: "note", fail: "FAIL", skip: "skip" };

function allChecks(report: CheckReport): Check[] {
  return [...report.keyStore.checks, ...report.component.checks, ...report.hosts.flatMap((h) => h.checks)];
}

/** All is well when nothing failed; notes are well. */
export const reportOk = (report: CheckReport): boolean => allChecks(report).every((c) => c.status !== "fail");

export const exitCodeOf = (report: CheckReport): number => (reportOk(report) ? 0 : 1);

function line(subject: string, check: Check): string {
  const fix = check.fix ? ` -> ${check.status === "fail" ? "fix" : "hint"}: ${check.fix}` : "";
  return `${LABELS[check.status]} ${subject} ${check.name}: ${check.detail}${fix}`;
}

export function formatText(report: CheckReport): string[] {
  const { component, keyStore, hosts } = report;
  const problems = allChecks(report).filter((c) => c.status === "fail").length;
  return [
    `component ${component.domain} at ${component.service}; key store ${keyStore.kind} ${keyStore.location}; ` +
      `hosts (from the ${report.hostsFrom}): ${hosts.map((h) => h.host).join(", ")}`,
    ...keyStore.checks.map((c) => line("key store", c)),
    ...component.checks.map((c) => line("component", c)),
    ...hosts.flatMap(({ host, checks }) => checks.map((c) => line(host, c))),
    problems === 0 ? "all well" : `${problems} problem${problems === 1 ? "" : "s"} to fix`,
  ];
}

const jsonCheck = ({ name, status, detail, fix }: Check) => ({
  name,
  ok: status !== "fail",
  status,
  detail,
  ...(fix ? { fix } : {}),
});

export function formatJson(report: CheckReport): string {
  const { component, keyStore, hosts } = report;
  return JSON.stringify(
    {
      ok: reportOk(report),
      component: { service: component.service, domain: component.domain, checks: component.checks.map(jsonCheck) },
      keyStore: { kind: keyStore.kind, location: keyStore.location, checks: keyStore.checks.map(jsonCheck) },
      hostsFrom: report.hostsFrom,
      hosts: hosts.map(({ host, checks }) => ({ host, checks: checks.map(jsonCheck) })),
    },
    null,
    2,
  );
}

// Shorter values are not searched for: they would blank ordinary words. Secrets are longer.
const MIN_REDACTED_LENGTH = 6;

/**
 * A last guard: no check puts a secret in its text, but a message from elsewhere (a store driver,
 * Prosody) might quote one; every occurrence becomes "[secret]", in text and in JSON.
 */
export function redact(text: string, secrets: readonly string[]): string {
  // As written, and as JSON writes it (a quote or backslash escaped).
  return [...secrets, ...secrets.map((secret) => JSON.stringify(secret).slice(1, -1))]
    .filter((secret) => secret.length >= MIN_REDACTED_LENGTH)
    .sort((a, b) => b.length - a.length)
    .reduce((out, secret) => out.split(secret).join("[secret]"), text);
}

/** An error's message with its cause's, which names what failed (a path, a refused connection). */
export function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message} (${err.cause.message})` : err.message;
}
