// Which database errors mean "the server is away" (the caller gets UNAVAILABLE and retries)
// and which are a statement's own fault, and rows gathered until a transaction commits, against
// a real MariaDB.
import type { Kysely, Transaction } from "kysely";
import { createConnection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { gatherUntilCommit, inTransaction, isConnectionError, writeGatheredRows } from "./db.ts";
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
