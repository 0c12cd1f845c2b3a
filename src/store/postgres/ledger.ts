import type pg from "pg";
import type { RedemptionLedger, RedemptionTotals } from "../usage.js";
import { inTransaction } from "./transaction.js";
import { USAGE_TABLE } from "./usage.js";
import { enqueueWith } from "./webhooks.js";

const CURSORS = "invites_api_redemption_cursor";

/** Run under the schema lock at start-up (index.ts), after the usage table's. */
export const POSTGRES_LEDGER_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${CURSORS} (host varchar(1023) PRIMARY KEY, cursor text,
   registrations bigint NOT NULL DEFAULT 0, resets bigint NOT NULL DEFAULT 0)`,
];

/**
 * The ledger in PostgreSQL: a batch's cursor, its counts and its webhook deliveries commit in one
 * transaction.
 */
export function postgresLedger(pool: pg.Pool): RedemptionLedger {
  return {
    async redemptionCursor(host) {
      const result = await pool.query<{ cursor: string | null }>(`SELECT cursor FROM ${CURSORS} WHERE host = $1`, [
        host,
      ]);
      return result.rows[0]?.cursor ?? null;
    },
    async applyRedemptions(batch) {
      // The conditional UPDATE locks the host's row until COMMIT: a second instance with the same
      // batch waits, then finds the cursor moved and updates nothing.
      // Nothing is written when the cursor has moved (the cursor row's insert is the same for both).
      return inTransaction(pool, async (client) => {
        if (batch.from === null) {
          await client.query(`INSERT INTO ${CURSORS} (host) VALUES ($1) ON CONFLICT (host) DO NOTHING`, [batch.host]);
        }
        const advanced = await client.query(
          `UPDATE ${CURSORS} SET cursor = $3, registrations = registrations + $4, resets = resets + $5
           WHERE host = $1 AND cursor IS NOT DISTINCT FROM $2`,
          [batch.host, batch.from, batch.to, batch.registrations, batch.resets],
        );
        if (advanced.rowCount !== 1) return false;
        for (const [id, { count, lastAt }] of batch.accounts) {
          await client.query(
            `UPDATE ${USAGE_TABLE} SET accounts = accounts + $2,
             last_registration_at = GREATEST(COALESCE(last_registration_at, ''), $3) WHERE id = $1`,
            [id, count, lastAt],
          );
        }
        await enqueueWith(client, batch.deliveries);
        return true;
      });
    },
    async redemptionTotals() {
      const result = await pool.query<{ host: string; registrations: string; resets: string }>(
        `SELECT host, registrations, resets FROM ${CURSORS}`,
      );
      return result.rows.map((row): RedemptionTotals => ({
        host: row.host,
        registrations: Number(row.registrations),
        resets: Number(row.resets),
      }));
    },
  };
}
