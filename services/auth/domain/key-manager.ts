// Which keys sign and verify, for this replica. Keys come from config in production; in
// development they are generated on first start and kept in the auth database (never in the
// repository). A new key is generated when the newest key is older than the rotation period;
// replicas pick it up within a minute and sign with it once it is published (keyPublishDelayMs).
import type { Kysely } from "kysely";
import type { AuthDatabase } from "../db/database.ts";
import { insertFirstSigningKey, insertSigningKey, listSigningKeys } from "../db/session.repository.ts";
import { generateSigningKey, KeyRing, keysStillVerifying, rotationDue, type StoredKey } from "./signing-keys.ts";

export interface KeyManager {
  /** The ring in use now. */
  current(): KeyRing;
  /** Creates a new key now (rotation): it verifies at once and signs once published. */
  rotate(): Promise<KeyRing>;
  stop(): void;
}

export async function startKeyManager(options: {
  db: Kysely<AuthDatabase>;
  /** Keys from BAZAAR_AUTH_SIGNING_KEYS; when given, the database is not used. */
  configuredKeys: StoredKey[] | undefined;
  rotationMs: number;
  tokenLifetimeMs: number;
}): Promise<KeyManager> {
  const { db, configuredKeys, rotationMs, tokenLifetimeMs } = options;
  let ring: KeyRing;

  const reload = async () => {
    if (configuredKeys) {
      ring = await KeyRing.from(configuredKeys);
      return ring;
    }
    let keys = await listSigningKeys(db);
    if (keys.length === 0) {
      // Replicas starting together agree on one first key (a rotation's race is harmless: a new
      // key signs only once published, by when every replica has reloaded).
      await insertFirstSigningKey(db, await generateSigningKey());
      keys = await listSigningKeys(db);
    } else if (rotationDue(keys[0], rotationMs)) {
      await insertSigningKey(db, await generateSigningKey());
      keys = await listSigningKeys(db);
    }
    ring = await KeyRing.from(keysStillVerifying(keys, tokenLifetimeMs));
    return ring;
  };

  await reload();
  const timer = setInterval(() => void reload().catch(() => undefined), 60_000);
  timer.unref();
  return {
    current: () => ring,
    async rotate() {
      if (configuredKeys) throw new Error("keys come from configuration; rotate them there");
      await insertSigningKey(db, await generateSigningKey());
      return reload();
    },
    stop: () => clearInterval(timer),
  };
}
