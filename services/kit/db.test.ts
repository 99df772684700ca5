// Which database errors mean "the server is away" (the caller gets UNAVAILABLE and retries)
// and which are a statement's own fault, and rows gathered until a transaction commits, against
// a real MariaDB.
import { CompiledQuery, type Kysely, type RawBuilder, type Transaction } from "kysely";
import { createPool, type PoolConnection } from "mysql2";
import { createConnection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  deferStatement,
  gatherUntilCommit,
  inTransaction,
  isConnectionError,
  nextInSequence,
  underNamedLock,
  writeGatheredRows,
} from "./db.ts";
import { deferredMark, PipelinedConnection } from "./pipelined-mysql.ts";
import { migratedTestDatabase } from "./testing/database.ts";

async function errorOf(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  throw new Error("expected the statement to fail");
}

describe("connection errors", () => {
  it("when a connection the server closed is used again, then it is a connection error (a MariaDB restart, seen by the chaos run)", async () => {
    const connection = await createConnection({ uri: inject("mysqlUrl") });
    connection.destroy();
    const error = await errorOf(connection.query("SELECT 1"));
    expect(String(error)).toMatch(/closed state/);
    expect(isConnectionError(error)).toBe(true);
  });

  it("when nothing listens at the address, then it is a connection error", async () => {
    expect(isConnectionError(await errorOf(createConnection({ uri: "mysql://root@127.0.0.1:1" })))).toBe(true);
  });

  it("when a statement is wrong, then it is not", async () => {
    const connection = await createConnection({ uri: inject("mysqlUrl") });
    try {
      expect(isConnectionError(await errorOf(connection.query("SELEC 1")))).toBe(false);
    } finally {
      await connection.end();
    }
  });
});

describe("work under a named lock", () => {
  it("when another connection holds the lock past the wait, then the work does not run and the call fails", async () => {
    const db = await migratedTestDatabase<Record<string, never>>("kit_named_lock", {});
    const holder = await createConnection({ uri: inject("mysqlUrl") });
    try {
      await holder.query("SELECT GET_LOCK('bazaar_test_named_lock', 0)");
      let ran = false;
      const failure = await errorOf(
        underNamedLock(db, "bazaar_test_named_lock", 1, async () => {
          ran = true;
        }),
      );
      expect(String(failure)).toContain("named lock bazaar_test_named_lock not taken within 1 s");
      expect(ran).toBe(false);

      await holder.query("SELECT RELEASE_LOCK('bazaar_test_named_lock')");
      expect(await underNamedLock(db, "bazaar_test_named_lock", 1, async () => "done")).toBe("done");
    } finally {
      await holder.end();
      await db.destroy();
    }
  });
});

describe("rows gathered until commit", () => {
  interface Tables {
    gathered: { id: number };
  }
  let db: Kysely<Tables>;
  const statements: number[][] = [];
  const writeRows = async (trx: Transaction<Tables>, ids: number[]) => {
    statements.push(ids);
    await trx
      .insertInto("gathered")
      .values(ids.map((id) => ({ id })))
      .execute();
  };
  const count = async (on: Kysely<Tables> | Transaction<Tables>) =>
    Number(
      (
        await on
          .selectFrom("gathered")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );

  beforeAll(async () => {
    db = await migratedTestDatabase<Tables>("kit_gathered", {
      "1": {
        up: (db) =>
          db.schema
            .createTable("gathered")
            .addColumn("id", "integer", (c) => c.primaryKey())
            .execute(),
      },
    });
  });
  afterAll(() => db?.destroy());

  it("when a transaction gathers rows, then they are written in one statement just before it commits", async () => {
    statements.length = 0;
    await db.deleteFrom("gathered").execute();
    const seenInside = await inTransaction(db, async (trx) => {
      for (const id of [1, 2, 3]) await gatherUntilCommit(trx, writeRows, id);
      return count(trx);
    });
    expect(seenInside).toBe(0);
    expect(statements).toEqual([[1, 2, 3]]);
    expect(await count(db)).toBe(3);
  });

  it("when the transaction reads them back, then writeGatheredRows writes them first, once", async () => {
    statements.length = 0;
    await db.deleteFrom("gathered").execute();
    await inTransaction(db, async (trx) => {
      await gatherUntilCommit(trx, writeRows, 1);
      await writeGatheredRows(trx);
      expect(await count(trx)).toBe(1);
      await gatherUntilCommit(trx, writeRows, 2);
    });
    expect(statements).toEqual([[1], [2]]);
  });

  it("when the transaction rolls back, then nothing gathered is written", async () => {
    statements.length = 0;
    await db.deleteFrom("gathered").execute();
    await expect(
      inTransaction(db, async (trx) => {
        await gatherUntilCommit(trx, writeRows, 1);
        throw new Error("handler failed");
      }),
    ).rejects.toThrow("handler failed");
    expect(statements).toEqual([]);
    expect(await count(db)).toBe(0);
  });

  it("when the transaction was opened without commit hooks, then each row is written at once", async () => {
    statements.length = 0;
    await db.deleteFrom("gathered").execute();
    await db.transaction().execute(async (trx) => {
      await gatherUntilCommit(trx, writeRows, 1);
      expect(await count(trx)).toBe(1);
    });
    expect(statements).toEqual([[1]]);
  });
});

describe("pipelined statements", () => {
  interface Tables {
    piped: { id: number; note: string };
    counters: { name: string; last_seq: number };
    numbered: { name: string; seq: number };
  }
  let db: Kysely<Tables>;
  const ids = async (on: Kysely<Tables> | Transaction<Tables>) =>
    (await on.selectFrom("piped").select("id").orderBy("id").execute()).map((row) => row.id);

  beforeAll(async () => {
    db = await migratedTestDatabase<Tables>("kit_piped", {
      "1": {
        up: (db) =>
          db.schema
            .createTable("piped")
            .addColumn("id", "integer", (c) => c.primaryKey())
            .addColumn("note", "varchar(20)", (c) => c.notNull())
            .execute(),
      },
      "2": {
        up: async (db) => {
          await db.schema
            .createTable("counters")
            .addColumn("name", "varchar(10)", (c) => c.primaryKey())
            .addColumn("last_seq", "bigint", (c) => c.notNull())
            .execute();
          await db.schema
            .createTable("numbered")
            .addColumn("name", "varchar(10)", (c) => c.primaryKey())
            .addColumn("seq", "bigint", (c) => c.notNull())
            .execute();
        },
      },
    });
  });
  afterAll(() => db?.destroy());

  const insert = (trx: Transaction<Tables>, id: number, note = "") =>
    deferStatement(trx, trx.insertInto("piped").values({ id, note }));

  it("when a transaction defers writes, then they reach the server in order before its next statement and commit with it", async () => {
    await db.deleteFrom("piped").execute();
    await inTransaction(db, async (trx) => {
      await insert(trx, 1);
      await insert(trx, 2);
      // An update of a deferred row sees it: the held statements go first, in order.
      await trx.updateTable("piped").set({ note: "seen" }).where("id", "=", 2).execute();
      expect(await ids(trx)).toEqual([1, 2]);
      await insert(trx, 3);
    });
    expect(await ids(db)).toEqual([1, 2, 3]);
    expect((await db.selectFrom("piped").select("note").where("id", "=", 2).executeTakeFirstOrThrow()).note).toBe(
      "seen",
    );
  });

  it("when a transaction only defers, then its BEGIN, writes and COMMIT go together and commit", async () => {
    await db.deleteFrom("piped").execute();
    await inTransaction(db, (trx) => insert(trx, 7));
    expect(await ids(db)).toEqual([7]);
  });

  it("when a deferred write fails, then the statement it travels with fails and the whole transaction rolls back", async () => {
    await db.deleteFrom("piped").execute();
    await db.insertInto("piped").values({ id: 1, note: "" }).execute();
    const failure = await errorOf(
      inTransaction(db, async (trx) => {
        await insert(trx, 2);
        await insert(trx, 1); // a duplicate key
        await trx.selectFrom("piped").selectAll().execute();
      }),
    );
    expect((failure as { code?: string }).code).toBe("ER_DUP_ENTRY");
    expect(await ids(db)).toEqual([1]);
    // The same with the failure held until the COMMIT.
    const atCommit = await errorOf(inTransaction(db, (trx) => insert(trx, 1)));
    expect((atCommit as { code?: string }).code).toBe("ER_DUP_ENTRY");
    expect(await ids(db)).toEqual([1]);
  });

  it("when a write held until the COMMIT fails after others ran, then those roll back too, not commit with the connection's next user", async () => {
    await db.deleteFrom("piped").execute();
    await db.insertInto("piped").values({ id: 1, note: "" }).execute();
    const failure = await errorOf(
      inTransaction(db, async (trx) => {
        await insert(trx, 2);
        await insert(trx, 1); // a duplicate key, after the insert of 2 has run on the server
      }),
    );
    expect((failure as { code?: string }).code).toBe("ER_DUP_ENTRY");
    // The pool's connections, the failed one among them, begin and commit transactions of their own.
    await Promise.all(Array.from({ length: 20 }, (_, i) => inTransaction(db, (trx) => insert(trx, 100 + i))));
    expect((await ids(db)).filter((id) => id < 100)).toEqual([1]);
  });

  it("when a transaction rolls back, then its deferred writes never reach the server, and the connection is clean for its next user", async () => {
    await db.deleteFrom("piped").execute();
    await expect(
      inTransaction(db, async (trx) => {
        await trx.selectFrom("piped").selectAll().execute();
        await insert(trx, 5);
        throw new Error("use case failed");
      }),
    ).rejects.toThrow("use case failed");
    await expect(
      inTransaction(db, async (trx) => {
        await insert(trx, 6);
        throw new Error("failed before any statement");
      }),
    ).rejects.toThrow("failed before any statement");
    // Many transactions on the pool's connections afterwards see none of it.
    await Promise.all(Array.from({ length: 20 }, (_, i) => inTransaction(db, (trx) => insert(trx, 100 + i))));
    expect((await ids(db)).filter((id) => id < 100)).toEqual([]);
  });

  it("when a transaction takes sequence numbers, then each row gets its own, in order per key, written together at commit", async () => {
    const writeNumbered = (trx: Transaction<Tables>, rows: Array<{ name: string; seq: RawBuilder<number> }>) =>
      deferStatement(trx, trx.insertInto("numbered").values(rows));
    const number = async (trx: Transaction<Tables>, name: string, key: string) =>
      gatherUntilCommit(trx, writeNumbered, { name, seq: await nextInSequence(trx, "counters", "name", key) });
    await inTransaction(db, async (trx) => {
      await number(trx, "a1", "a");
      await number(trx, "a2", "a");
      await number(trx, "b1", "b");
    });
    // A later transaction, on whichever pooled connection, continues the counts.
    await inTransaction(db, async (trx) => {
      await number(trx, "b2", "b");
      await number(trx, "a3", "a");
    });
    const rows = await db.selectFrom("numbered").select(["name", "seq"]).orderBy("name").execute();
    expect(rows.map((row) => [row.name, Number(row.seq)])).toEqual([
      ["a1", 1],
      ["a2", 2],
      ["a3", 3],
      ["b1", 1],
      ["b2", 2],
    ]);
  });

  it("when a statement is deferred outside a transaction, then it runs at once", async () => {
    await db.deleteFrom("piped").execute();
    await deferStatement(db as unknown as Transaction<Tables>, db.insertInto("piped").values({ id: 9, note: "" }));
    expect(await ids(db)).toEqual([9]);
  });
});

describe("round trips of a pipelined connection", () => {
  it("when a transaction begins, defers, reads and commits, then it takes two round trips; one that ran nothing, none", async () => {
    const pool = createPool({ uri: inject("mysqlUrl"), multipleStatements: true });
    const raw = await new Promise<PoolConnection>((resolve, reject) =>
      pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection))),
    );
    const connection = new PipelinedConnection(raw);
    const sent: string[] = [];
    const query = raw.query.bind(raw);
    raw.query = ((sql: string, ...rest: never[]) => {
      sent.push(sql);
      return (query as (...args: unknown[]) => unknown)(sql, ...rest);
    }) as typeof raw.query;
    try {
      connection.begin({});
      await connection.executeQuery(CompiledQuery.raw(`${deferredMark}DO 1`));
      const { rows } = await connection.executeQuery(CompiledQuery.raw("SELECT ? AS x", [42]));
      expect(rows).toEqual([{ x: 42 }]);
      await connection.executeQuery(CompiledQuery.raw(`${deferredMark}DO 2`));
      await connection.commit();
      expect(sent).toEqual([`begin;\n${deferredMark}DO 1;\nSELECT 42 AS x`, `${deferredMark}DO 2;\ncommit`]);

      sent.length = 0;
      connection.begin({ isolationLevel: "read committed" });
      await connection.commit();
      connection.begin({});
      await connection.rollback();
      expect(sent).toEqual([]);
    } finally {
      raw.release();
      await new Promise((resolve) => pool.end(resolve));
    }
  });
});
