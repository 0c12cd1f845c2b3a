import KeyvPostgres, { type KeyvPostgresOptions } from "@keyv/postgres";
import type pg from "pg";
import { PEOPLE_NAMESPACE, PEOPLE_SWEEP } from "../people.js";

// keyv's serialized value ends with its time, when it has one: `{"value":…,"expires":MS}`.
const SWEEP = `DELETE FROM public.keyv WHERE key IN (SELECT key FROM public.keyv WHERE key LIKE $1
  AND substring(value from '"expires":([0-9]{1,15})}$')::bigint <= $2 LIMIT $3)`;

/**
 * keyv's store for people's values, in keyv's table (keyv gives each store one namespace). keyv
 * drops a value past its TTL only when it reads it: each write also removes a few expired ones,
 * so that sessions nobody comes back to do not pile up.
 */
export class PostgresPeople extends KeyvPostgres {
  constructor(
    options: KeyvPostgresOptions,
    private readonly pool: pg.Pool,
  ) {
    super(options);
  }

  override async set(key: string, value: unknown): Promise<void> {
    await super.set(key, value);
    await this.pool.query(SWEEP, [`${PEOPLE_NAMESPACE}:%`, Date.now(), PEOPLE_SWEEP]);
  }
}
