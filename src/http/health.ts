import type { Context } from "koa";
import type { KeyStore } from "../keys/keyStore.js";
import type { ConnectionStatus } from "../xmpp/connection.js";

const STORE_PING_TIMEOUT_MS = 2_000;

/** GET /health: the process is up and answering. No key needed. */
export function health() {
  return function health(ctx: Context): void {
    ctx.body = { status: "ok" };
  };
}

export interface ReadinessDeps {
  readonly xmppStatus: () => ConnectionStatus;
  readonly keys: KeyStore;
}

/** GET /ready: 200 when the component is online and the key store answers, else 503 naming what is down. */
export function readiness(deps: ReadinessDeps) {
  return async function readiness(ctx: Context): Promise<void> {
    const xmpp = deps.xmppStatus();
    const store = await pingStore(deps.keys);
    const ready = xmpp.online && store.ok;
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      ready,
      xmpp: xmpp.online ? { ok: true } : { ok: false, problem: xmpp.problem },
      store,
    };
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
