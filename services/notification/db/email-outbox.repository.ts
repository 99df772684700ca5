// SQL of the e-mail outbox (email/outbox.ts enqueues, email/delivery.ts sends).
import { sql, type Kysely, type Transaction } from "kysely";
import { deferStatement, gatherUntilCommit } from "../../kit/db.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { EmailTables, MailStatus } from "../email/database.ts";

type Db = Kysely<EmailTables> | Transaction<EmailTables>;

/** Inserts a PENDING mail; false when its idempotency key is already there. */
export async function insertMail(
  db: Db,
  mail: { idempotencyKey: string; to: string; template: string; data: object },
): Promise<boolean> {
  const inserted = await db
    .insertInto("email_outbox")
    .ignore()
    .values({
      id: uuidv7(),
      idempotency_key: mail.idempotencyKey,
      to_address: mail.to,
      template: mail.template,
      data: JSON.stringify(mail.data),
    })
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/**
 * Inserts a PENDING mail just before the transaction commits, with the transaction's other mails
 * in one statement (a consumer's batch of order events mails buyers and sellers); one whose
 * idempotency key is already there is left out.
 */
export async function insertMailAtCommit(
  trx: Transaction<EmailTables>,
  mail: { idempotencyKey: string; to: string; template: string; data: object },
): Promise<void> {
  await gatherUntilCommit(trx, writeMails, {
    id: uuidv7(),
    idempotency_key: mail.idempotencyKey,
    to_address: mail.to,
    template: mail.template,
    data: JSON.stringify(mail.data),
  });
}

const writeMails = async (
  trx: Transaction<EmailTables>,
  rows: Array<{ id: string; idempotency_key: string; to_address: string; template: string; data: string }>,
) => {
  await deferStatement(trx, trx.insertInto("email_outbox").ignore().values(rows));
};

/**
 * Leases up to `limit` due PENDING rows nobody holds to `holder` for `leaseMs`, and returns them.
 * The row locks of the one UPDATE decide between holders claiming at the same moment. `holder`
 * must name this one claim (not just the process): the rows are read back by it, and an earlier
 * claim's rows still leased would come back too.
 */
export async function claimDueMails(db: Db, holder: string, leaseMs: number, limit: number) {
  const claimed = await db
    .updateTable("email_outbox")
    .set({ lease_holder: holder, lease_until: sql<Date>`UTC_TIMESTAMP(6) + INTERVAL ${leaseMs * 1000} MICROSECOND` })
    .where("status", "=", "PENDING")
    .where("next_attempt_at", "<=", sql<Date>`UTC_TIMESTAMP(6)`)
    .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<", sql<Date>`UTC_TIMESTAMP(6)`)]))
    .orderBy("next_attempt_at")
    .limit(limit)
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) === 0) return [];
  return db
    .selectFrom("email_outbox")
    .selectAll()
    .where("lease_holder", "=", holder)
    .where("status", "=", "PENDING")
    .where("lease_until", ">", sql<Date>`UTC_TIMESTAMP(6)`)
    .execute();
}

export async function markMailSent(db: Db, id: string, holder: string, messageId: string, data: object): Promise<void> {
  await db
    .updateTable("email_outbox")
    .set({
      status: "SENT",
      sent_at: sql<Date>`UTC_TIMESTAMP(6)`,
      message_id: messageId,
      attempts: sql<number>`attempts + 1`,
      data: JSON.stringify(data),
      lease_until: null,
      last_error: "",
    })
    .where("id", "=", id)
    .where("lease_holder", "=", holder)
    .execute();
}

/** Records a failed attempt: PENDING again after `retryMs`, or DEAD (then with `deadData`). */
export async function markMailFailed(
  db: Db,
  id: string,
  holder: string,
  failure: { status: Exclude<MailStatus, "SENT">; attempts: number; error: string; retryMs: number; deadData?: object },
): Promise<void> {
  await db
    .updateTable("email_outbox")
    .set({
      status: failure.status,
      attempts: failure.attempts,
      last_error: failure.error,
      next_attempt_at: sql<Date>`UTC_TIMESTAMP(6) + INTERVAL ${failure.retryMs * 1000} MICROSECOND`,
      lease_until: null,
      ...(failure.deadData ? { data: JSON.stringify(failure.deadData) } : {}),
    })
    .where("id", "=", id)
    .where("lease_holder", "=", holder)
    .execute();
}
