import type pg from "pg";
import { enqueueWith } from "../../webhooks/stores/postgresWebhooks.js";
import { inTransaction } from "../pgTransaction.js";
import type { CountResult, RedemptionTotals, Usage, UsageCounters } from "./counters.js";

interface Row {
  id: string;
  issued: string;
  last_used_at: string | null;
  accounts: string;
  last_registration_at: string | null;
}

const TABLE = "invites_api_usage";
const CURSORS = "invites_api_redemption_cursor";

/** Run under the schema lock at start-up; the ALTERs bring an older table up to date. */
export const POSTGRES_USAGE_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${TABLE} (id varchar(255) PRIMARY KEY, issued bigint NOT NULL DEFAULT 0, last_used_at text)`,
  `ALTER TABLE ${TABLE} ADD COLUMN IF NOT EXISTS accounts bigint NOT NULL DEFAULT 0`,
  `ALTER TABLE ${TABLE} ADD COLUMN IF NOT EXISTS last_registration_at text`,
  `CREATE TABLE IF NOT EXISTS ${CURSORS} (host varchar(1023) PRIMARY KEY, cursor text,
   registrations bigint NOT NULL DEFAULT 0, resets bigint NOT NULL DEFAULT 0)`,
];

const toUsage = (row: Row): Usage => ({
  invitesIssued: Number(row.issued),
  ...(row.last_used_at ? { lastUsedAt: row.last_used_at } : {}),
  accountsRegistered: Number(row.accounts),
  ...(row.last_registration_at ? { lastRegistrationAt: row.last_registration_at } : {}),
});

/**
 * Counters in a PostgreSQL table: `UPDATE … WHERE … RETURNING` locks the row, so instances
 * counting at once are serialized by the server and a quota is never passed.
 */
export function postgresCounters(pool: pg.Pool): UsageCounters {
  return {
    async reset(id, usage) {
      await pool.query(
        `INSERT INTO ${TABLE} (id, issued, last_used_at) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET issued = excluded.issued, last_used_at = excluded.last_used_at,
         accounts = 0, last_registration_at = NULL`,
        [id, usage.invitesIssued, usage.lastUsedAt ?? null],
      );
    },
    async adopt(id, usage) {
      await pool.query(
        `INSERT INTO ${TABLE} (id, issued, last_used_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
        [id, usage.invitesIssued, usage.lastUsedAt ?? null],
      );
    },
    async add(id, count, at, max): Promise<CountResult> {
      const updated = await pool.query(
        `UPDATE ${TABLE} SET issued = issued + $1, last_used_at = $2
         WHERE id = $3 AND ($4::bigint IS NULL OR issued + $1 <= $4::bigint) RETURNING issued`,
        [count, at, id, max ?? null],
      );
      if ((updated.rowCount ?? 0) > 0) return "counted";
      const exists = await pool.query(`SELECT 1 FROM ${TABLE} WHERE id = $1`, [id]);
      return (exists.rowCount ?? 0) > 0 ? "exhausted" : "missing";
    },
    async release(id) {
      await pool.query(`UPDATE ${TABLE} SET issued = issued - 1 WHERE id = $1 AND issued > 0`, [id]);
    },
    async read(ids) {
      const result = await pool.query<Row>(
        `SELECT id, issued, last_used_at, accounts, last_registration_at FROM ${TABLE} WHERE id = ANY($1::varchar[])`,
        [ids],
      );
      return new Map(result.rows.map((row) => [row.id, toUsage(row)]));
    },
    async remove(id) {
      await pool.query(`DELETE FROM ${TABLE} WHERE id = $1`, [id]);
    },
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
            `UPDATE ${TABLE} SET accounts = accounts + $2,
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
