// The database baselines, with mysql2 straight to MariaDB from the bench process: a primary-key
// select (execute, the binary protocol) and the reserve-stock transaction the product service
// runs for every order line (a conditional UPDATE in a transaction), on random rows of a table
// shaped like the catalog's. A scenario divided by one of these shows what the mesh adds on
// top of its queries. The table lives in a database of its own, dropped at the end.
import { randomUUID } from "node:crypto";
import { createConnection, createPool, type ResultSetHeader } from "mysql2/promise";
import { runClosedLoop } from "../load/closed-loop.ts";
import type { Scenario } from "../scenarios/scenario.ts";

export const dbBaselineIds = {
  primaryKeySelect: "baseline.mysql.primary-key-select",
  reserveStock: "baseline.mysql.reserve-stock",
} as const;

const database = "bazaar_bench_baseline";
const rowCount = 10_000;

export interface DatabaseBaselines {
  scenarios: Scenario[];
  drop(): Promise<void>;
}

export async function createDatabaseBaselines(mysqlUrl: string): Promise<DatabaseBaselines> {
  const ids = await createStockRows(mysqlUrl);
  const randomId = () => ids[Math.floor(Math.random() * ids.length)]!;
  const withPool = async <T>(concurrency: number, use: (pool: ReturnType<typeof createPool>) => Promise<T>) => {
    const pool = createPool({ uri: mysqlUrl, database, connectionLimit: concurrency });
    try {
      return await use(pool);
    } finally {
      await pool.end();
    }
  };
  const shape = { kind: "baseline", generator: "mysql2", protocol: "MySQL", sweep: true } as const;
  return {
    scenarios: [
      {
        ...shape,
        id: dbBaselineIds.primaryKeySelect,
        title: "mysql2 primary-key select (execute)",
        measure: (run) =>
          withPool(run.concurrency, (pool) =>
            runClosedLoop({
              ...run,
              async call() {
                const [rows] = await pool.execute(
                  "SELECT id, name, price_minor, stock_on_hand - stock_held AS available FROM stock_rows WHERE id = ?",
                  [randomId()],
                );
                return (rows as unknown[]).length === 1 ? undefined : "row missing";
              },
            }),
          ),
      },
      {
        ...shape,
        id: dbBaselineIds.reserveStock,
        title: "mysql2 reserve-stock transaction (conditional UPDATE, random rows)",
        measure: (run) =>
          withPool(run.concurrency, (pool) =>
            runClosedLoop({
              ...run,
              async call() {
                const connection = await pool.getConnection();
                try {
                  await connection.query("START TRANSACTION");
                  const [result] = await connection.execute<ResultSetHeader>(
                    "UPDATE stock_rows SET stock_held = stock_held + ? WHERE id = ? AND stock_on_hand - stock_held >= ?",
                    [1, randomId(), 1],
                  );
                  await connection.query("COMMIT");
                  return result.affectedRows === 1 ? undefined : "out of stock";
                } catch (error) {
                  await connection.query("ROLLBACK").catch(() => {});
                  throw error;
                } finally {
                  connection.release();
                }
              },
            }),
          ),
      },
    ],
    async drop() {
      const connection = await createConnection({ uri: mysqlUrl });
      await connection.query(`DROP DATABASE IF EXISTS ${database}`);
      await connection.end();
    },
  };
}

/** The rows, with more stock than any run can reserve. */
async function createStockRows(mysqlUrl: string): Promise<string[]> {
  const connection = await createConnection({ uri: mysqlUrl });
  try {
    await connection.query(`CREATE DATABASE IF NOT EXISTS ${database}`);
    await connection.query(`USE ${database}`);
    await connection.query(
      `CREATE TABLE IF NOT EXISTS stock_rows (
        id CHAR(36) PRIMARY KEY,
        name VARCHAR(200) NOT NULL,
        price_minor BIGINT NOT NULL,
        stock_on_hand INT NOT NULL,
        stock_held INT NOT NULL DEFAULT 0
      )`,
    );
    await connection.query("TRUNCATE stock_rows");
    const ids = Array.from({ length: rowCount }, () => randomUUID());
    const rows = ids.map((id, n) => [id, `baseline row ${n}`, 100 + n, 1_000_000_000]);
    await connection.query("INSERT INTO stock_rows (id, name, price_minor, stock_on_hand) VALUES ?", [rows]);
    return ids;
  } finally {
    await connection.end();
  }
}
