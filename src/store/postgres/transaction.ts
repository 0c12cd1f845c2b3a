import type pg from "pg";

/**
 * Runs `work` in one transaction on a client of `pool`: COMMIT when it returns, ROLLBACK when it
 * throws (then the error goes on). The client goes back to the pool on every path, or is dropped
 * when even ROLLBACK fails (a query past its timeout may still be under way on it).
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch((rollback: Error) => (broken = rollback));
    throw err;
  } finally {
    client.release(broken);
  }
}
