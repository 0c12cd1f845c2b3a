import Keyv from "keyv";
import KeyvPostgres from "@keyv/postgres";
import pg from "pg";
import { RateLimiterPostgres } from "rate-limiter-flexible";
import { NAMESPACE, quiet, type KeyBackend } from "./openStore.js";

const LIMITS_TABLE = "invites_api_rate_limits";

// COMPAT: @keyv/postgres keeps its pg pool to itself and listens for none of its errors. A pool
// emits "error" when an idle connection dies (PostgreSQL restarting), and an unheard "error" event
// ends the process. Queries still fail and are answered with 503; only the unheard event is dropped.
let poolErrorsHeard = false;
function hearPoolErrors(): void {
  if (poolErrorsHeard) return;
  poolErrorsHeard = true;
  const emit = pg.Pool.prototype.emit;
  pg.Pool.prototype.emit = function (this: pg.Pool, event: string | symbol, ...args: unknown[]): boolean {
    if (event === "error" && this.listenerCount("error") === 0) return false;
    return emit.call(this, event, ...args);
  };
}

/** Keys and rate-limit counts in PostgreSQL, shared by every instance that points at it. */
export function openPostgres(url: string): KeyBackend {
  hearPoolErrors();
  const store = new KeyvPostgres({ uri: url, iterationLimit: 1_000 });
  const keyv = quiet(new Keyv({ store, namespace: NAMESPACE, throwOnErrors: true }));
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => {});
  return {
    keyv,
    limiters: (rate, keyPrefix) =>
      new RateLimiterPostgres({
        storeClient: pool,
        storeType: "pool",
        tableName: LIMITS_TABLE,
        tableCreated: true,
        points: rate.points,
        duration: rate.durationSeconds,
        keyPrefix,
      }),
    init: async () => {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${LIMITS_TABLE} (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`,
      );
    },
    close: async () => {
      await keyv.disconnect();
      await pool.end();
    },
  };
}
