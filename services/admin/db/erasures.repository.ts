// Erased users and the audit entries about them: SQL of the admin service's part of EraseUser.
import { sql, type Kysely, type Transaction } from "kysely";
import { writeGatheredRows } from "../../kit/db.ts";
import type { AdminDatabase } from "./database.ts";
import type { AuditRow } from "./projections.repository.ts";

type Db = Kysely<AdminDatabase> | Transaction<AdminDatabase>;

/** Remembers the user as erased; false when they were already. */
export async function recordErasure(db: Db, userId: string): Promise<boolean> {
  const result = await db
    .insertInto("erased_users")
    .ignore()
    .values({ user_id: userId, complete_time: null })
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function markErasureComplete(db: Db, userId: string): Promise<void> {
  await db
    .updateTable("erased_users")
    .set({ complete_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("user_id", "=", userId)
    .where("complete_time", "is", null)
    .execute();
}

export async function isErased(db: Db, userId: string): Promise<boolean> {
  return (
    (await db.selectFrom("erased_users").select("user_id").where("user_id", "=", userId).executeTakeFirst()) !==
    undefined
  );
}

/** The audit entries of these types about the user, locked for rewriting. */
export async function lockAuditEntriesAbout(
  trx: Transaction<AdminDatabase>,
  userId: string,
  eventTypes: readonly string[],
): Promise<AuditRow[]> {
  // Entries of the same batch of events are still gathered (insertAuditEvent): written first.
  await writeGatheredRows(trx);
  return trx
    .selectFrom("audit_events")
    .selectAll()
    .where("subject_id", "=", userId)
    .where("event_type", "in", eventTypes)
    .forUpdate()
    .execute();
}

export async function rewriteAuditEntry(
  db: Db,
  id: string,
  entry: Pick<AuditRow, "summary" | "payload_json">,
): Promise<void> {
  await db.updateTable("audit_events").set(entry).where("id", "=", id).execute();
}

/** Dead letters whose event bytes hold `text` (a user id), locked for rewriting. */
export async function lockDeadLettersMentioning(
  trx: Transaction<AdminDatabase>,
  text: string,
): Promise<Array<{ id: string; payload: Buffer }>> {
  return trx
    .selectFrom("dead_letters")
    .select(["id", "payload"])
    .where(sql<number>`LOCATE(${Buffer.from(text, "utf8")}, payload)`, ">", 0)
    .forUpdate()
    .execute();
}

export async function replaceDeadLetterPayload(db: Db, id: string, payload: Uint8Array): Promise<void> {
  await db
    .updateTable("dead_letters")
    .set({ payload: Buffer.from(payload) })
    .where("id", "=", id)
    .execute();
}
