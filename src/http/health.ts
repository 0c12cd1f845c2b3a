import type { Context, Next } from "koa";
import type { KeyStore } from "../keys/keyStore.js";
import type { ConnectionStatus } from "../xmpp/connection.js";
import type { HealthJson, ReadinessJson } from "./apiTypes.js";

const STORE_PING_TIMEOUT_MS = 2_000;

/** GET /health: the process is up and answering. No key needed. */
export function health() {
  return function health(ctx: Context): void {
    ctx.body = { status: "ok" } satisfies HealthJson;
  };
}

export interface ReadinessDeps {
  readonly xmppStatus: () => ConnectionStatus;
  readonly keys: KeyStore;
  readonly stopping: () => boolean;
}

/**
 * While the service shuts down, every answer says `Connection: close`: Node then closes the
 * connection after the answer, so a keep-alive client never sends a request into a closing socket.
 */
export function closeWhenStopping(stopping: () => boolean) {
  return async function closeWhenStopping(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } finally {
      // Checked as the answer leaves: a request that began before the stop gets it too.
      if (stopping() && !ctx.headerSent) ctx.set("Connection", "close");
    }
  };
}

/**
 * GET /ready: 200 when the component is online and the key store answers, else 503 naming what is
 * down; 503 at once when the service is stopping, so that a load balancer sends nothing more.
 */
export function readiness(deps: ReadinessDeps) {
  return async function readiness(ctx: Context): Promise<void> {
    if (deps.stopping()) {
      ctx.status = 503;
      ctx.body = { ready: false, stopping: true } satisfies ReadinessJson;
      return;
    }
    const xmpp = deps.xmppStatus();
    const store = await pingStore(deps.keys);
    const ready = xmpp.online && store.ok;
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      ready,
      xmpp: xmpp.online ? { ok: true } : { ok: false, problem: xmpp.problem },
      store,
    } satisfies ReadinessJson;
  };
}

async function pingStore(keys: KeyStore): Promise<{ ok: boolean; problem?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${STORE_PING_TIMEOUT_MS} ms`)), STORE_PING_TIMEOUT_MS);
  });
  try {
    await Promise.race([keys.ping(), timeout]);
    return { ok: true };
  } catch (err) {
    return { ok: false, problem: err instanceof Error ? err.message : "key store failed" };
  } finally {
    clearTimeout(timer);
  }
}
