// Sign-in throttling per client address, against a real MariaDB.
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb, ensureDatabase, migrateToLatest } from "../../kit/db.ts";
import type { AuthDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { pruneSessions } from "../db/session.repository.ts";
import { KeyRing, generateSigningKey } from "./signing-keys.ts";
import { login, register, type SessionDeps } from "./sessions.ts";
import { InvalidCredentialsError, TooManyAttemptsError } from "./user.ts";

let db: Kysely<AuthDatabase>;
let deps: SessionDeps;

beforeAll(async () => {
  const database = `auth_sessions_${randomBytes(4).toString("hex")}`;
  await ensureDatabase(inject("mysqlUrl"), database);
  db = createDb<AuthDatabase>({ url: inject("mysqlUrl"), database });
  await migrateToLatest(db as Kysely<unknown>, migrations);
  const ring = await KeyRing.from([await generateSigningKey()]);
  deps = {
    db,
    keys: () => ring,
    outbox: { wake() {} },
    policy: {
      accessTokenTtlSeconds: 900,
      refreshIdleSeconds: 3600,
      refreshAbsoluteSeconds: 7200,
      maxFailuresPerAccount: 100,
      maxFailuresPerIp: 3,
      failureWindowSeconds: 900,
    },
  };
});

afterAll(async () => {
  await db?.destroy();
});

describe("pruning", () => {
  it("when failed sign-ins are older than the cut-off, then they are deleted and newer ones kept", async () => {
    await db
      .insertInto("login_failures")
      .values([
        { email: "old@example.test", client_ip: "192.0.2.1", create_time: new Date(Date.now() - 2 * 86_400_000) },
        { email: "new@example.test", client_ip: "192.0.2.1" },
      ])
      .execute();
    await pruneSessions(db, new Date(Date.now() - 86_400_000), new Date());
    const left = await db.selectFrom("login_failures").select("email").where("client_ip", "=", "192.0.2.1").execute();
    expect(left.map((r) => r.email)).toEqual(["new@example.test"]);
  });
});

describe("throttling by client address", () => {
  it("when one address fails on many accounts, then it is throttled while other addresses still sign in", async () => {
    await register(deps, {
      email: "victim@example.test",
      password: "right-password",
      displayName: "V",
      role: "customer",
    });
    for (let i = 0; i < 3; i++) {
      await expect(
        login(deps, { email: `spray-${i}@example.test`, password: "guess-guess", clientIp: "203.0.113.66" }),
      ).rejects.toBeInstanceOf(InvalidCredentialsError);
    }
    await expect(
      login(deps, { email: "victim@example.test", password: "right-password", clientIp: "203.0.113.66" }),
    ).rejects.toBeInstanceOf(TooManyAttemptsError);
    const { user } = await login(deps, {
      email: "victim@example.test",
      password: "right-password",
      clientIp: "198.51.100.1",
    });
    expect(user.email).toBe("victim@example.test");
  });
});
