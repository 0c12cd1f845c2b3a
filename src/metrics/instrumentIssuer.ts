import { performance } from "node:perf_hooks";
import { AppError } from "../errors.js";
import type { InviteIssuer } from "../xmpp/inviteIssuer.js";
import type { Metrics } from "./metrics.js";

/** Wraps an issuer to time each ad-hoc call and count invites by host. */
export function instrumentIssuer(issuer: InviteIssuer, metrics: Metrics): InviteIssuer {
  async function timed<T>(host: string, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await call();
      metrics.adhocDuration("ok", (performance.now() - started) / 1_000);
      metrics.inviteIssued(host);
      return result;
    } catch (err) {
      const outcome = err instanceof AppError ? err.code : "error";
      metrics.adhocDuration(outcome, (performance.now() - started) / 1_000);
      throw err;
    }
  }
  return {
    createAccountInvite: (host) => timed(host, () => issuer.createAccountInvite(host)),
    createResetInvite: (host, username) => timed(host, () => issuer.createResetInvite(host, username)),
  };
}
