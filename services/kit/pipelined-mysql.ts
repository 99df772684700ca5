// kysely's MySQL dialect with a driver that saves round trips: a transaction's BEGIN is sent
// with its first statement, and statements deferred with deferStatement are sent with the next
// one (or the COMMIT), as one multi-statement query. Each round trip costs both ends a socket
// write, a read and a wake-up of the other; a checkout ran about eleven transactions over ~70
// statements, so BEGINs and result-less inserts were a fifth of its round trips.
//
// Deferring is only for statements whose answer nobody reads and whose failure no caller catches
// (an outbox row, a history row): a deferred statement that fails makes the statement it went
// with fail, or the COMMIT, and the transaction rolls back whole.
//
// Multi-statement queries need the connection flag (multipleStatements); every statement is
// still built by kysely and its parameters escaped by mysql2, as for a single one, and MariaDB
// counts each statement as a question.
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type TransactionSettings,
  MysqlAdapter,
  MysqlIntrospector,
  MysqlQueryCompiler,
  type Dialect,
  type Kysely,
} from "kysely";
import type { Pool, PoolConnection, ResultSetHeader } from "mysql2";

/**
 * Marks a compiled statement to be held back (kit/db.ts deferStatement): a comment, so a
 * connection that does not know it would simply run the statement.
 */
export const deferredMark = "/* deferred */ ";

export function pipelinedMysqlDialect(pool: Pool): Dialect {
  return {
    createAdapter: () => new MysqlAdapter(),
    createDriver: () => new PipelinedMysqlDriver(pool),
    createIntrospector: (db: Kysely<any>) => new MysqlIntrospector(db),
    createQueryCompiler: () => new MysqlQueryCompiler(),
  };
}

/** A pooled connection that holds back what can wait for the next statement. */
export class PipelinedConnection implements DatabaseConnection {
  readonly #raw: PoolConnection;
  /** Statements to send before the next one, in order: BEGIN and deferred statements. */
  #held: string[] = [];
  /** Whether BEGIN has reached the server in this transaction. */
  #begun = false;

  constructor(raw: PoolConnection) {
    this.#raw = raw;
  }

  get raw(): PoolConnection {
    return this.#raw;
  }

  begin(settings: TransactionSettings): void {
    const parts = [settings.isolationLevel && `isolation level ${settings.isolationLevel}`, settings.accessMode];
    const set = parts.filter(Boolean).join(", ");
    // On MySQL this sets the isolation level of the next transaction: it must precede BEGIN.
    if (set) this.#held.push(`set transaction ${set}`);
    this.#held.push("begin");
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    if (compiledQuery.sql.startsWith(deferredMark)) {
      // Sent with whatever statement goes next on this connection, or the COMMIT.
      this.#held.push(this.#raw.format(compiledQuery.sql, compiledQuery.parameters as unknown[]));
      return { rows: [] };
    }
    if (this.#held.length === 0) return resultOf(await this.#query(compiledQuery.sql, compiledQuery.parameters));
    const statements = [...this.#held, this.#raw.format(compiledQuery.sql, compiledQuery.parameters as unknown[])];
    this.#sent();
    const results = (await this.#query(statements.join(";\n"), [])) as unknown[];
    return resultOf(results.at(-1));
  }

  async commit(): Promise<void> {
    const held = this.#held;
    const begun = this.#begun;
    this.#held = [];
    this.#begun = false;
    const work = held.filter((statement) => statement !== "begin" && !statement.startsWith("set transaction "));
    // A transaction that sent nothing and holds nothing but its BEGIN has nothing to commit.
    if (!begun && work.length === 0) return;
    try {
      await this.#query([...held, "commit"].join(";\n"), []);
    } catch (error) {
      // MariaDB stops a multi-statement query at its first failing statement: the ones before it
      // ran and the COMMIT did not, so the transaction is still open and the ROLLBACK that follows
      // must reach the server. Skipped, the next BEGIN on this pooled connection would commit them.
      this.#begun = true;
      throw error;
    }
  }

  /** Sends what is held, if anything. */
  async flush(): Promise<void> {
    if (this.#held.length > 0) await this.executeQuery(CompiledQuery.raw("DO 0"));
  }

  async rollback(): Promise<void> {
    this.#held = [];
    if (!this.#begun) return;
    this.#begun = false;
    await this.#query("rollback", []);
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    // Streams start on their own round trip: what is held goes first.
    await this.flush();
    const stream = this.#raw
      .query(compiledQuery.sql, compiledQuery.parameters as unknown[])
      .stream({ objectMode: true });
    for await (const row of stream) yield { rows: [row as R] };
  }

  #sent(): void {
    if (this.#held.includes("begin")) this.#begun = true;
    this.#held = [];
  }

  #query(sql: string, parameters: readonly unknown[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#raw.query(sql, parameters as unknown[], (error, result) => (error ? reject(error) : resolve(result)));
    });
  }
}

function resultOf<R>(result: unknown): QueryResult<R> {
  if (!isResultHeader(result)) return { rows: (Array.isArray(result) ? result : []) as R[] };
  const { insertId, affectedRows, changedRows } = result;
  return {
    insertId: insertId != null && insertId.toString() !== "0" ? BigInt(insertId) : undefined,
    numAffectedRows: affectedRows != null ? BigInt(affectedRows) : undefined,
    numChangedRows: changedRows != null ? BigInt(changedRows) : undefined,
    rows: [],
  };
}

function isResultHeader(result: unknown): result is ResultSetHeader {
  return typeof result === "object" && result !== null && "insertId" in result && "affectedRows" in result;
}

class PipelinedMysqlDriver implements Driver {
  readonly #pool: Pool;
  readonly #connections = new WeakMap<PoolConnection, PipelinedConnection>();

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const raw = await new Promise<PoolConnection>((resolve, reject) =>
      this.#pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection))),
    );
    let connection = this.#connections.get(raw);
    if (!connection) {
      connection = new PipelinedConnection(raw);
      this.#connections.set(raw, connection);
    }
    return connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    (connection as PipelinedConnection).begin(settings);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PipelinedConnection).commit();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PipelinedConnection).rollback();
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const pipelined = connection as PipelinedConnection;
    try {
      // Nothing held may pass to the connection's next user (a transaction ends with nothing held).
      await pipelined.flush();
    } finally {
      pipelined.raw.release();
    }
  }

  async destroy(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.#pool.end((error) => (error ? reject(error) : resolve())));
  }
}
