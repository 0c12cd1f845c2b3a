import Keyv from "keyv";
import KeyvPostgres from "@keyv/postgres";
import pg from "pg";
import { RateLimiterPostgres } from "rate-limiter-flexible";
import { STORE_TIMEOUT_MS } from "../deadline.js";
import { NAMESPACE, quiet } from "../keyv.js";
import { PEOPLE_NAMESPACE } from "../people.js";
import type { ServiceStore } from "../store.js";
import { POSTGRES_IDEMPOTENCY_SCHEMA, postgresIdempotency } from "./idempotency.js";
import { POSTGRES_LEDGER_SCHEMA, postgresLedger } from "./ledger.js";
import { postgresKeyRows } from "./keyRows.js";
import { POSTGRES_ONE_TIME_SCHEMA, postgresOneTime } from "./oneTime.js";
import { PostgresPeople } from "./people.js";
import { POSTGRES_QUOTA_SCHEMA, postgresQuotas } from "./quotas.js";
import { inTransaction } from "./transaction.js";
import { POSTGRES_USAGE_SCHEMA, postgresUsage } from "./usage.js";
import { POSTGRES_WEBHOOK_SCHEMA, postgresWebhooks } from "./webhooks.js";

const LIMITS_TABLE = "invites_api_rate_limits";
// Any fixed number: every instance takes the same advisory lock while it creates the tables.
const SCHEMA_LOCK = 0x1f1a_e5a1;
const CONNECT_TIMEOUT_MS = 5_000;
/**
 * Each query's bound on the client (node-postgres's query_timeout): past it the query fails and the
 * pool drops its connection, which may be stuck on a server that stopped answering. Not the
 * server's statement_timeout: a pooler such as PgBouncer refuses it as a startup parameter.
 */
const QUERY_TIMEOUT_MS = STORE_TIMEOUT_MS;

// The tables every instance needs, keyv's own included, so that keyv finds its table made.
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS public.keyv (key VARCHAR(255) PRIMARY KEY, value TEXT)`,
  `CREATE TABLE IF NOT EXISTS ${LIMITS_TABLE} (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`,
  ...POSTGRES_USAGE_SCHEMA,
  ...POSTGRES_LEDGER_SCHEMA,
  ...POSTGRES_WEBHOOK_SCHEMA,
  ...POSTGRES_IDEMPOTENCY_SCHEMA,
  ...POSTGRES_QUOTA_SCHEMA,
  ...POSTGRES_ONE_TIME_SCHEMA,
];

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

/**
 * PostgreSQL answers two concurrent `CREATE TABLE IF NOT EXISTS` of one table with a unique
 * violation for one of them (23505, 42P07): instances starting together take turns under an
 * advisory lock, and each finds the tables the first one made.
 */
async function createSchema(pool: pg.Pool): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
    for (const statement of SCHEMA) await client.query(statement);
  });
}

/** The whole store in PostgreSQL, shared by every instance that points at it. */
export async function openPostgres(url: string): Promise<ServiceStore> {
  hearPoolErrors();
  const timeouts = { connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: QUERY_TIMEOUT_MS };
  const pool = new pg.Pool({ connectionString: url, max: 4, ...timeouts });
  pool.on("error", () => {});
  try {
    await createSchema(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  // keyv's store is made only now: its constructor runs its own CREATE TABLE at once. It hands
  // its options on to its own pg.Pool.
  const store = new KeyvPostgres({ uri: url, iterationLimit: 1_000, ...timeouts });
  const keyRecords = quiet(new Keyv({ store, namespace: NAMESPACE, throwOnErrors: true }));
  const peopleStore = new PostgresPeople({ uri: url, iterationLimit: 1_000, ...timeouts }, pool);
  const people = quiet(new Keyv({ store: peopleStore, namespace: PEOPLE_NAMESPACE, throwOnErrors: true }));
  return {
    keyRecords,
    keyRows: postgresKeyRows(pool, NAMESPACE),
    usage: postgresUsage(pool),
    ledger: postgresLedger(pool),
    webhooks: postgresWebhooks(pool),
    idempotency: postgresIdempotency(pool),
    quotas: postgresQuotas(pool),
    oneTime: postgresOneTime(pool),
    people,
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
    init: async () => {},
    close: async () => {
      // keyv's pool is one per process, whoever opened it (people's store's too): a second close
      // finds it ended.
      await keyRecords.disconnect().catch(() => undefined);
      await pool.end();
    },
  };
}
