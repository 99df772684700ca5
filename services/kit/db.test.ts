// Which database errors mean "the server is away" (the caller gets UNAVAILABLE and retries)
// and which are a statement's own fault, against a real MariaDB.
import { createConnection } from "mysql2/promise";
import { describe, expect, inject, it } from "vitest";
import { isConnectionError } from "./db.ts";

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
