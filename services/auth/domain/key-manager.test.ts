// Key rotation against a real MariaDB: a new key signs, tokens of the old key keep verifying
// until they expire, and a verifier that meets an unknown kid reloads the key set once.
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTokenVerifier } from "../../kit/auth.ts";
import { createDb, ensureDatabase, migrateToLatest } from "../../kit/db.ts";
import type { AuthDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { startKeyManager, type KeyManager } from "./key-manager.ts";
import { generateSigningKey, keyPublishDelayMs, KeyRing, keysStillVerifying } from "./signing-keys.ts";
import { listSigningKeys } from "../db/session.repository.ts";
import { issueAccessToken } from "./tokens.ts";

let db: Kysely<AuthDatabase>;
let keys: KeyManager;

beforeAll(async () => {
  const database = `auth_keys_${randomBytes(4).toString("hex")}`;
  await ensureDatabase(inject("mysqlUrl"), database);
  db = createDb<AuthDatabase>({ url: inject("mysqlUrl"), database });
  await migrateToLatest(db as Kysely<unknown>, migrations);
  keys = await startKeyManager({
    db,
    configuredKeys: undefined,
    rotationMs: 30 * 86_400_000,
    tokenLifetimeMs: 900_000,
  });
});

afterAll(async () => {
  keys?.stop();
  await db?.destroy();
});

const customer = { id: "0193a000-0000-7000-8000-0000000000c1", role: "customer" as const };

describe("signing key rotation", () => {
  it("when the first start finds no key, then it generates one and keeps it", async () => {
    const stored = await db.selectFrom("signing_keys").select("kid").execute();
    expect(stored.map((k) => k.kid)).toEqual([keys.current().signing.kid]);
  });

  it("when replicas start together on an empty database, then they store one key and sign with it", async () => {
    const database = `auth_keys_${randomBytes(4).toString("hex")}`;
    await ensureDatabase(inject("mysqlUrl"), database);
    const empty = createDb<AuthDatabase>({ url: inject("mysqlUrl"), database });
    await migrateToLatest(empty as Kysely<unknown>, migrations);
    const options = { db: empty, configuredKeys: undefined, rotationMs: 30 * 86_400_000, tokenLifetimeMs: 900_000 };
    const replicas = await Promise.all(Array.from({ length: 4 }, () => startKeyManager(options)));
    try {
      const stored = await listSigningKeys(empty);
      expect(stored).toHaveLength(1);
      expect(replicas.map((replica) => replica.current().signing.kid)).toEqual(replicas.map(() => stored[0]!.kid));
    } finally {
      for (const replica of replicas) replica.stop();
      await empty.destroy();
    }
  });

  it("when keys rotate, then new tokens carry the new kid and tokens of the old key still verify", async () => {
    let loads = 0;
    const verifier = createTokenVerifier({
      loadJwks: async () => {
        loads += 1;
        return keys.current().jwks();
      },
      refreshIntervalMs: 0,
    });
    const before = await issueAccessToken(keys.current().signing, customer, 900);
    expect((await verifier.verify(before.token)).id).toBe(customer.id);

    const oldKid = keys.current().signing.kid;
    await keys.rotate();
    // Published first: in the key set at once, still the old key signing.
    expect(keys.current().signing.kid).toBe(oldKid);
    const newKid = keys
      .current()
      .jwks()
      .keys.map((k) => k.kid)
      .find((kid) => kid !== oldKid);
    expect(newKid).toBeDefined();
    // Once published for long enough, the new key signs.
    const later = await KeyRing.from(await listSigningKeys(db), new Date(Date.now() + keyPublishDelayMs));
    const after = await issueAccessToken(later.signing, customer, 900);
    expect(decodeProtectedHeader(after.token).kid).toBe(newKid);

    // The verifier has never seen the new kid: it reloads the key set once and accepts.
    expect((await verifier.verify(after.token)).role).toBe("customer");
    expect((await verifier.verify(before.token)).role).toBe("customer");
    expect(loads).toBe(2);
    expect(
      keys
        .current()
        .jwks()
        .keys.map((k) => k.kid),
    ).toContain(oldKid);
  });

  it("when two replicas create a key at the same moment, then both sign with the first until the second is published", async () => {
    const first = await generateSigningKey(new Date("2026-11-23T12:00:00.000Z"));
    const second = await generateSigningKey(new Date("2026-11-23T12:00:00.005Z"));
    const justAfter = new Date("2026-11-23T12:00:01Z");
    // One replica listed only its own key, the other both: they agree on the signer.
    expect((await KeyRing.from([first], justAfter)).signing.kid).toBe(first.kid);
    expect((await KeyRing.from([first, second], justAfter)).signing.kid).toBe(first.kid);
    const published = new Date(second.createTime.getTime() + keyPublishDelayMs);
    expect((await KeyRing.from([first, second], published)).signing.kid).toBe(second.kid);
  });

  it("when a retired key's last tokens have expired, then it leaves the key set", async () => {
    // `old` stopped signing when `previous` was published (11:42), so its last tokens expired
    // at 11:57 and it leaves; `previous` stopped at 11:57 and its tokens live until 12:12.
    const now = new Date("2026-11-23T12:00:00Z");
    const old = await generateSigningKey(new Date("2026-10-01T00:00:00Z"));
    const previous = await generateSigningKey(new Date("2026-11-23T11:40:00Z"));
    const current = await generateSigningKey(new Date("2026-11-23T11:55:00Z"));
    const kept = keysStillVerifying([old, previous, current], 15 * 60_000, now).map((k) => k.kid);
    expect(kept).toEqual([current.kid, previous.kid]);
  });
});
