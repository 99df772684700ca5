// MySQL through kysely + mysql2: one database per service on a shared or dedicated server.
import { createPool, createConnection, type Pool } from "mysql2";
import { type Compilable, type CompiledQuery, Kysely, type RawBuilder, sql, type Transaction } from "kysely";
import { Migrator, type Migration } from "kysely/migration";
import { Gauge } from "prom-client";
import { refreshOnScrape, registry } from "./metrics.ts";
import { deferredMark, pipelinedMysqlDialect } from "./pipelined-mysql.ts";
import { statementSpans } from "./tracing.ts";

export interface DbOptions {
  /** Server URL without a database, e.g. mysql://user:pass@host:3306 */
  url: string;
  database: string;
  connectionLimit?: number;
}

export function createDb<DB>(options: DbOptions): Kysely<DB> {
  const url = new URL(options.url);
  url.pathname = `/${options.database}`;
  const pool = createPool({
    uri: url.toString(),
    connectionLimit: options.connectionLimit ?? 10,
    // Timestamps are stored and read as UTC whatever the server's or the process's zone.
    timezone: "Z",
    dateStrings: false,
    // BIGINT columns (money in minor units) come back exact, as strings, never rounded floats.
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    charset: "utf8mb4_unicode_ci",
    enableKeepAlive: true,
    // A transaction's BEGIN and its deferred statements travel with the next statement
    // (pipelined-mysql.ts); parameters are still escaped by mysql2 for every statement.
    multipleStatements: true,
  });
  pool.on("connection", (connection) => connection.query("SET time_zone = '+00:00'"));
  // With tracing off there is no log hook at all: kysely then adds nothing to a statement.
  const log = statementSpans({ database: options.database, host: url.hostname, port: Number(url.port || 3306) });
  const dialect = pipelinedMysqlDialect(pool);
  const db = new Kysely<DB>(log ? { dialect, log } : { dialect });
  pools.set(db, { pool, database: options.database });
  return db;
}

const pools = new WeakMap<Kysely<any>, { pool: Pool; database: string }>();

// OpenTelemetry's database client metrics as Prometheus names (db.client.connection.*): the
// pool is named by its database, which is one per service.
const poolName = "db_client_connection_pool_name";
const connections = new Gauge({
  name: "db_client_connection_count",
  help: "Pool connections by state: used (running a statement or held by a transaction) or idle",
  labelNames: ["db_client_connection_state", poolName],
  registers: [registry],
});
const maxConnections = new Gauge({
  name: "db_client_connection_max",
  help: "Connections the pool may open",
  labelNames: [poolName],
  registers: [registry],
});
const pendingRequests = new Gauge({
  name: "db_client_connection_pending_requests",
  help: "Statements and transactions waiting for a free pool connection",
  labelNames: [poolName],
  registers: [registry],
});

/** mysql2's pool keeps its counts in fields it does not document; read, never written. */
interface PoolInternals {
  _allConnections: { length: number };
  _freeConnections: { length: number };
  _connectionQueue: { length: number };
  config: { connectionLimit: number };
}

/** Reports the pool of a database made by createDb at each scrape; returns the unregister. */
export function observePool(db: Kysely<any>): () => void {
  const { pool, database } = pools.get(db) ?? {};
  if (!pool || !database) throw new Error("observePool needs a database made by createDb");
  const internals = pool as unknown as PoolInternals;
  const name = { [poolName]: database };
  return refreshOnScrape("db_pool", [connections, maxConnections, pendingRequests], async () => {
    const all = internals._allConnections.length;
    const free = internals._freeConnections.length;
    connections.set({ ...name, db_client_connection_state: "used" }, all - free);
    connections.set({ ...name, db_client_connection_state: "idle" }, free);
    pendingRequests.set(name, internals._connectionQueue.length);
    maxConnections.set(name, internals.config.connectionLimit);
  });
}

/** Creates the service's database when missing; needs CREATE on the server (dev and tests). */
export async function ensureDatabase(serverUrl: string, database: string): Promise<void> {
  if (!/^\w+$/.test(database)) throw new Error(`database name "${database}" must be letters, digits or _`);
  const connection = createConnection({ uri: serverUrl }).promise();
  try {
    await connection.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await connection.end();
  }
}

/**
 * Applies every pending migration. Migrations are passed in (a static record per service)
 * rather than read from a folder, so a typo in a file name fails type checking, not production.
 * Kysely takes a MySQL advisory lock around the run, so replicas starting together are safe.
 */
export async function migrateToLatest(db: Kysely<unknown>, migrations: Record<string, Migration>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/**
 * Runs `work` on one connection holding the server's named lock `name` (GET_LOCK, waiting up to
 * `waitSeconds`): for what replicas starting together on an empty database must do once, such as
 * storing a first key or seeding demo data. The lock is the connection's, so `work` uses it.
 * A lock still held by another after the wait is an error, not a licence to go on without it:
 * the caller fails its start and is restarted, where two unlocked runs would each do the work.
 */
export async function underNamedLock<DB, T>(
  db: Kysely<DB>,
  name: string,
  waitSeconds: number,
  work: (connection: Kysely<DB>) => Promise<T>,
): Promise<T> {
  return db.connection().execute(async (connection) => {
    const { rows } = await sql<{ taken: number | null }>`SELECT GET_LOCK(${name}, ${waitSeconds}) AS taken`.execute(
      connection,
    );
    if (Number(rows[0]?.taken) !== 1) throw new Error(`named lock ${name} not taken within ${waitSeconds} s`);
    try {
      return await work(connection);
    } finally {
      await sql`SELECT RELEASE_LOCK(${name})`.execute(connection);
    }
  });
}

/** How many sequence numbers each transaction took so far: each is held in its own variable. */
const sequencesTaken = new WeakMap<object, number>();

/**
 * Takes the next number of a per-key sequence row (`last_seq`, created at 1) without a round trip
 * of its own: the upsert travels with the transaction's next statement (deferStatement), leaves
 * the number in a session variable (LAST_INSERT_ID(expr) sets it in the same statement), and what
 * is returned is that variable, for the rows that carry the number. The row stays locked until the
 * transaction ends, so numbers commit in the order taken. Variables are numbered per transaction,
 * so a connection holds a handful however many transactions it runs; each is set before it is read.
 */
export async function nextInSequence<DB>(
  trx: Transaction<DB>,
  table: string,
  keyColumn: string,
  key: string,
): Promise<RawBuilder<number>> {
  // Outside a transaction the upsert and the row reading its variable could take different
  // pooled connections.
  if (!trx.isTransaction) throw new Error("nextInSequence needs a transaction");
  const taken = sequencesTaken.get(trx) ?? 0;
  sequencesTaken.set(trx, taken + 1);
  const variable = sql.raw<number>(`@bazaar_seq_${taken}`);
  await deferRaw(
    trx,
    sql`INSERT INTO ${sql.table(table)} (${sql.ref(keyColumn)}, last_seq)
    VALUES (${key}, LAST_INSERT_ID(1))
    ON DUPLICATE KEY UPDATE last_seq = LAST_INSERT_ID(last_seq + 1)`,
  );
  await deferRaw(trx, sql`SET ${variable} = LAST_INSERT_ID()`);
  return variable;
}

interface CommitHooks {
  db: Kysely<any>;
  hooks: Array<(db: Kysely<any>) => void>;
  /** Rows gathered until commit, by what writes them. */
  gathered: Map<GatheredWriter<any>, unknown[]>;
}

/** Writes rows gathered in a transaction, all in one statement. */
export type GatheredWriter<R> = (trx: Transaction<any>, rows: R[]) => Promise<void>;

const commitHooks = new WeakMap<object, CommitHooks>();

/**
 * Runs `hook` once the transaction has committed, never if it rolls back: for what must follow
 * the commit, such as waking a feed's readers. Only in a transaction opened by inTransaction or
 * transactionWithCommitHooks (every durable consumer's).
 */
export function afterCommit<DB>(trx: Transaction<DB>, hook: () => void): void {
  if (!whenCommitted(trx, hook)) throw new Error("afterCommit in a transaction opened without commit hooks");
}

/**
 * afterCommit for what is only an optimisation (publishing an event at once, which the outbox
 * relay would otherwise do a moment later): false, and nothing runs, in a transaction opened
 * without commit hooks. The hook is given the database the transaction ran on.
 */
export function whenCommitted<DB>(trx: Transaction<DB>, hook: (db: Kysely<any>) => void): boolean {
  const registered = commitHooks.get(trx);
  registered?.hooks.push(hook);
  return registered !== undefined;
}

/**
 * Keeps `row` to be written by `write` just before the transaction commits, with every other row
 * given to the same writer: a consumer applying a batch of events then writes, say, their audit
 * rows in one statement instead of one per event. Written at once in a transaction opened without
 * commit hooks. A statement that reads the table in the same transaction must call
 * writeGatheredRows first.
 */
export async function gatherUntilCommit<R>(trx: Transaction<any>, write: GatheredWriter<R>, row: R): Promise<void> {
  const registered = commitHooks.get(trx);
  if (!registered) return write(trx, [row]);
  const rows = registered.gathered.get(write);
  if (rows) rows.push(row);
  else registered.gathered.set(write, [row]);
}

/** Writes now what gatherUntilCommit kept in this transaction. */
export async function writeGatheredRows(trx: Transaction<any>): Promise<void> {
  const gathered = commitHooks.get(trx)?.gathered;
  if (!gathered) return;
  for (const [write, rows] of gathered) {
    gathered.delete(write);
    await write(trx, rows);
  }
}

/**
 * Runs `work` in a transaction, writing the rows it gathered before the commit; then, once it has
 * committed, the hooks it registered.
 */
export async function transactionWithCommitHooks<DB, T>(
  db: Kysely<DB>,
  work: (trx: Transaction<DB>) => Promise<T>,
): Promise<T> {
  const registered: CommitHooks = { db, hooks: [], gathered: new Map() };
  const result = await db.transaction().execute(async (trx) => {
    commitHooks.set(trx, registered);
    const done = await work(trx);
    await writeGatheredRows(trx);
    return done;
  });
  for (const hook of registered.hooks) hook(db);
  return result;
}

/**
 * Runs `work` in a transaction (with commit hooks), again from the start when InnoDB picks it as
 * a deadlock victim or its lock wait times out — under concurrency that is normal operation, not
 * an error. Hooks of an attempt that rolled back never run.
 */
export async function inTransaction<DB, T>(
  db: Kysely<DB>,
  work: (trx: Transaction<DB>) => Promise<T>,
  attempts = 8,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transactionWithCommitHooks(db, work);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if ((code !== "ER_LOCK_DEADLOCK" && code !== "ER_LOCK_WAIT_TIMEOUT") || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt * Math.random()));
    }
  }
}

/**
 * Sends `query` with the transaction's next statement, or its COMMIT, instead of on a round trip
 * of its own: for a write whose answer nobody reads and whose failure nobody catches, which then
 * fails the statement it travels with and the whole transaction.
 */
export async function deferStatement(trx: Kysely<any>, query: Compilable): Promise<void> {
  await deferCompiled(trx, query.compile());
}

/** deferStatement for a raw `sql` statement. */
function deferRaw(trx: Kysely<any>, statement: RawBuilder<unknown>): Promise<void> {
  return deferCompiled(trx, statement.compile(trx));
}

async function deferCompiled(trx: Kysely<any>, compiled: CompiledQuery): Promise<void> {
  // Outside a transaction there is no next statement to travel with: it runs now.
  if (!trx.isTransaction) await trx.executeQuery(compiled);
  else await trx.executeQuery({ ...compiled, sql: deferredMark + compiled.sql });
}

/** A LIKE pattern matching `text` anywhere, with LIKE's wildcards in it taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const connectionErrorCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "PROTOCOL_CONNECTION_LOST",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
]);

/**
 * A failure to reach the server, as opposed to an error in a statement. mysql2 marks errors that
 * end a connection `fatal`; some have no code, such as the one a pooled connection the server
 * closed (a restart) gives for its next statement.
 */
export function isConnectionError(error: unknown): boolean {
  const { code, fatal } = (error ?? {}) as { code?: string; fatal?: boolean };
  return fatal === true || connectionErrorCodes.has(code ?? "");
}

/** True when the database answers; used by health checks. */
export async function pingDb(db: Kysely<unknown>): Promise<boolean> {
  try {
    await sql`SELECT 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}

/** A JSON column's value: MariaDB returns JSON columns as text, MySQL 8 as parsed values. */
export function jsonColumn<T>(value: unknown): T {
  return (typeof value === "string" ? JSON.parse(value) : value) as T;
}
