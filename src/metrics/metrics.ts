import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { HostBudget } from "./budgets.js";

/** Prometheus metrics of one service instance, in its own registry (no global state). */
export interface Metrics {
  readonly registry: Registry;
  inviteIssued(host: string): void;
  request(route: string, method: string, status: number): void;
  authFailure(reason: string): void;
  rateLimited(kind: "key" | "address"): void;
  adhocDuration(outcome: string, seconds: number): void;
  webhookDelivery(outcome: "delivered" | "failed" | "dropped"): void;
  /** A pass over Prosody's registration records started, and what started it. */
  redemptionPass(trigger: "interval" | "nudge" | "online"): void;
}

export interface MetricSources {
  readonly xmppOnline: () => boolean;
  /** Counted from Prosody's registration records (redemptions/): right after a restart of either side. */
  readonly redemptionTotals?: () => Promise<ReadonlyArray<{ host: string; registrations: number; resets: number }>>;
  /**
   * The webhook outbox: deliveries waiting (leased ones too), and when the oldest one's event
   * happened (ms). Read at every scrape: the stores answer it in constant time (store/webhooks.ts).
   */
  readonly webhookBacklog?: () => Promise<{ count: number; oldestAt?: number }>;
  /** Each served host's registration budget (budgets.ts: read from Prosody, kept a short while). */
  readonly budgets?: () => Promise<readonly HostBudget[]>;
}

export function createMetrics(opts: MetricSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "invites_api_" });

  const invites = new Counter({
    name: "invites_api_invites_issued_total",
    help: "Invites issued, by VirtualHost",
    labelNames: ["host"],
    registers: [registry],
  });
  const requests = new Counter({
    name: "invites_api_http_requests_total",
    help: "HTTP requests answered, by route, method and status",
    labelNames: ["route", "method", "status"],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: "invites_api_auth_failures_total",
    help: "Requests refused for their key, by reason",
    labelNames: ["reason"],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: "invites_api_rate_limited_total",
    help: "Requests refused with 429: over a key's rate (key) or an address's failed attempts (address)",
    labelNames: ["kind"],
    registers: [registry],
  });
  new Gauge({
    name: "invites_api_xmpp_connected",
    help: "1 while the component is connected to Prosody, else 0",
    registers: [registry],
    collect() {
      this.set(opts.xmppOnline() ? 1 : 0);
    },
  });
  new Counter({
    name: "invites_api_invites_redeemed_total",
    help: "Invites used, by VirtualHost and type (account: a registration, reset: a password reset), from Prosody's records",
    labelNames: ["host", "type"],
    registers: [registry],
    async collect() {
      if (!opts.redemptionTotals) return;
      // A store that does not answer leaves the series out of this scrape rather than failing it.
      const totals = await opts.redemptionTotals().catch(() => []);
      this.reset();
      for (const { host, registrations, resets } of totals) {
        this.inc({ host, type: "account" }, registrations);
        this.inc({ host, type: "reset" }, resets);
      }
    },
  });
  const deliveries = new Counter({
    name: "invites_api_webhook_deliveries_total",
    help: "Webhook delivery attempts, by outcome: delivered (2xx), failed (retried), dropped (retried for the whole window)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  for (const outcome of ["delivered", "failed", "dropped"]) deliveries.inc({ outcome }, 0);
  // Both gauges of one scrape share one read: they are collected together.
  let reading: Promise<{ count: number; oldestAt?: number } | undefined> | undefined;
  const backlog = () => {
    if (!opts.webhookBacklog) return Promise.resolve(undefined);
    reading ??= opts
      .webhookBacklog()
      .catch(() => undefined)
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  new Gauge({
    name: "invites_api_webhook_backlog",
    help: "Webhook deliveries waiting in the outbox (every instance's)",
    registers: [registry],
    async collect() {
      const found = await backlog();
      if (found) this.set(found.count);
    },
  });
  new Gauge({
    name: "invites_api_webhook_oldest_pending_seconds",
    help: "Age of the oldest undelivered webhook event (0 when none waits)",
    registers: [registry],
    async collect() {
      const found = await backlog();
      if (found) this.set(found.oldestAt === undefined ? 0 : Math.max(0, (Date.now() - found.oldestAt) / 1_000));
    },
  });
  // The three budget gauges of one scrape share one read.
  let budgetsRead: Promise<readonly HostBudget[]> | undefined;
  const budgets = () => {
    if (!opts.budgets) return Promise.resolve([]);
    budgetsRead ??= opts
      .budgets()
      .catch(() => [])
      .finally(() => {
        budgetsRead = undefined;
      });
    return budgetsRead;
  };
  const budgetGauge = (name: string, help: string, value: (entry: HostBudget) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ["host"],
      registers: [registry],
      async collect() {
        const found = await budgets();
        this.reset();
        for (const entry of found) {
          const v = value(entry);
          if (v !== undefined) this.set({ host: entry.host }, v);
        }
      },
    });
  budgetGauge(
    "invites_api_registration_budget_used",
    "Registrations counted in the host's current budget window (read from Prosody, kept up to 15 s)",
    ({ budget }) => budget.used,
  );
  budgetGauge(
    "invites_api_registration_budget_limit",
    "The host's registration budget per window; absent without one",
    ({ budget }) => budget.limit?.count,
  );
  budgetGauge(
    "invites_api_registration_budget_window_seconds",
    "The length of the host's budget window; absent without a budget",
    ({ budget }) => budget.limit?.windowSeconds,
  );
  budgetGauge(
    "invites_api_registrations_paused",
    "1 while registrations on the host are paused, else 0",
    ({ budget }) => (budget.paused ? 1 : 0),
  );
  const adhoc = new Histogram({
    name: "invites_api_adhoc_duration_seconds",
    help: "Time of the ad-hoc create-account call to Prosody, by outcome",
    labelNames: ["outcome"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const redemptionPasses = new Counter({
    name: "invites_api_redemption_passes_total",
    help: "Passes over Prosody's registration records, by what started them (interval, nudge, online)",
    labelNames: ["trigger"],
    registers: [registry],
  });

  // Each label set is resolved once; prom-client would otherwise hash the label object per request.
  const requestSeries = new Map<string, { inc(): void }>();
  function request(route: string, method: string, status: number): void {
    const id = `${route} ${method} ${status}`;
    let series = requestSeries.get(id);
    if (!series) {
      series = requests.labels(route, method, String(status));
      requestSeries.set(id, series);
    }
    series.inc();
  }

  return {
    registry,
    inviteIssued: (host) => invites.inc({ host }),
    request,
    authFailure: (reason) => authFailures.inc({ reason }),
    rateLimited: (kind) => rateLimited.inc({ kind }),
    adhocDuration: (outcome, seconds) => adhoc.observe({ outcome }, seconds),
    webhookDelivery: (outcome) => deliveries.inc({ outcome }),
    redemptionPass: (trigger) => redemptionPasses.inc({ trigger }),
  };
}
