import { performance } from "node:perf_hooks";
import { AppError } from "../errors.js";
import type { InviteIssuer } from "../xmpp/inviteIssuer.js";
import type { InviteManager } from "../xmpp/inviteManager.js";
import type { Metrics } from "./metrics.js";

type Timed = <T>(host: string, call: () => Promise<T>, issues?: boolean) => Promise<T>;

/** Times each ad-hoc call; one that `issues` an invite also counts it by host. */
function timer(metrics: Metrics): Timed {
  return async (host, call, issues = true) => {
    const started = performance.now();
    try {
      const result = await call();
      metrics.adhocDuration("ok", (performance.now() - started) / 1_000);
      if (issues) metrics.inviteIssued(host);
      return result;
    } catch (err) {
      const outcome = err instanceof AppError ? err.code : "error";
      metrics.adhocDuration(outcome, (performance.now() - started) / 1_000);
      throw err;
    }
  };
}

/** Wraps an issuer to time each ad-hoc call and count invites by host. */
export function instrumentIssuer(issuer: InviteIssuer, metrics: Metrics): InviteIssuer {
  const timed = timer(metrics);
  return {
    createAccountInvite: (host, options) => timed(host, () => issuer.createAccountInvite(host, options)),
    createResetInvite: (host, username, options) =>
      timed(host, () => issuer.createResetInvite(host, username, options)),
  };
}

/** The same for the calls of the /invites resource: list, show and revoke are timed, not counted. */
export function instrumentManager(manager: InviteManager, metrics: Metrics): InviteManager {
  const timed = timer(metrics);
  return {
    available: (host) => manager.available(host),
    createAccount: (host, invite) => timed(host, () => manager.createAccount(host, invite)),
    createGroup: (host, invite) => timed(host, () => manager.createGroup(host, invite)),
    createReset: (host, invite) => timed(host, () => manager.createReset(host, invite)),
    list: (host, page) => timed(host, () => manager.list(host, page), false),
    show: (host, id) => timed(host, () => manager.show(host, id), false),
    revoke: (host, id, actor) => timed(host, () => manager.revoke(host, id, actor), false),
    account: (host, username) => timed(host, () => manager.account(host, username), false),
    redemptions: (host, page) => manager.redemptions(host, page),
    options: (host) => timed(host, () => manager.options(host), false),
  };
}
