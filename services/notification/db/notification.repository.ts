// Every SQL statement of the notification service.
import { type InsertObject, sql, type Kysely, type Transaction } from "kysely";
import { deferStatement, gatherUntilCommit, nextInSequence } from "../../kit/db.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { Channel, Kind } from "../domain/kinds.ts";
import type { NotificationDatabase, NotificationRow, RecipientRow } from "./database.ts";

type Db = Kysely<NotificationDatabase> | Transaction<NotificationDatabase>;

export interface NewNotification {
  userId: string;
  kind: Kind;
  title: string;
  body: string;
  link?: string;
  subjectUserId?: string;
}

/**
 * Appends to a user's inbox at their next position. The position row stays locked until the
 * transaction ends, so positions commit in the order they were taken.
 */
export async function insertNotification(trx: Transaction<NotificationDatabase>, n: NewNotification): Promise<string> {
  const seq = await nextInSequence(trx, "inbox_positions", "user_id", n.userId);
  const id = uuidv7();
  // Written with the transaction's other notifications just before it commits: a consumer's
  // batch of order events notifies buyers and sellers in one statement.
  await gatherUntilCommit(trx, writeNotifications, {
    id,
    user_id: n.userId,
    seq,
    kind: n.kind,
    title: n.title.slice(0, 200),
    body: n.body.slice(0, 1000),
    link: n.link ?? "",
    subject_user_id: n.subjectUserId ?? null,
  });
  return id;
}

const writeNotifications = async (
  trx: Transaction<NotificationDatabase>,
  rows: Array<InsertObject<NotificationDatabase, "notifications">>,
) => {
  await deferStatement(trx, trx.insertInto("notifications").values(rows));
};

export async function listNotifications(
  db: Db,
  userId: string,
  filter: { unreadOnly: boolean; beforeSeq?: number; limit: number },
): Promise<NotificationRow[]> {
  let query = db.selectFrom("notifications").selectAll().where("user_id", "=", userId);
  if (filter.unreadOnly) query = query.where("read_time", "is", null);
  if (filter.beforeSeq !== undefined) query = query.where("seq", "<", filter.beforeSeq as never);
  return query.orderBy("seq", "desc").limit(filter.limit).execute();
}

export async function notificationsAfter(db: Db, userId: string, afterSeq: number, limit: number) {
  return db
    .selectFrom("notifications")
    .selectAll()
    .where("user_id", "=", userId)
    .where("seq", ">", afterSeq as never)
    .orderBy("seq", "asc")
    .limit(limit)
    .execute();
}

/** The user's last position created before `time` (now when unset); 0 for none. */
export async function positionBefore(db: Db, userId: string, time?: Date): Promise<number> {
  let query = db
    .selectFrom("notifications")
    .select((eb) => eb.fn.max("seq").as("seq"))
    .where("user_id", "=", userId);
  if (time) query = query.where("create_time", "<", time);
  const row = await query.executeTakeFirst();
  return Number(row?.seq ?? 0);
}

export async function markRead(db: Db, userId: string, ids: string[] | "all"): Promise<number> {
  if (ids !== "all" && ids.length === 0) return 0;
  let query = db
    .updateTable("notifications")
    .set({ read_time: sql<Date>`UTC_TIMESTAMP(6)` as never })
    .where("user_id", "=", userId)
    .where("read_time", "is", null);
  if (ids !== "all") query = query.where("id", "in", ids);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function unreadCount(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom("notifications")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("user_id", "=", userId)
    .where("read_time", "is", null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function preferencesOf(
  db: Db,
  userId: string,
): Promise<Array<{ kind: Kind; channel: Channel; enabled: boolean }>> {
  const rows = await db
    .selectFrom("notification_preferences")
    .select(["kind", "channel", "enabled"])
    .where("user_id", "=", userId)
    .execute();
  return rows.map((r) => ({ ...r, enabled: Boolean(r.enabled) }));
}

/** A user's saved preferences and, when known, their recipient row: what every delivery reads first. */
export interface RecipientSettings {
  preferences: Array<{ kind: Kind; channel: Channel; enabled: boolean }>;
  recipient?: RecipientRow;
}

/** preferencesAndRecipients for one user. */
export async function preferencesAndRecipient(db: Db, userId: string): Promise<RecipientSettings> {
  return (await preferencesAndRecipients(db, [userId])).get(userId)!;
}

/** The settings of several users in one statement: an order's buyer and sellers, say. */
export async function preferencesAndRecipients(
  db: Db,
  userIds: readonly string[],
): Promise<Map<string, RecipientSettings>> {
  const ids = [...new Set(userIds)];
  const settings = new Map<string, RecipientSettings>(ids.map((id) => [id, { preferences: [] }]));
  if (ids.length === 0) return settings;
  const { rows } = await sql<{
    user_id: string;
    kind: Kind | null;
    channel: Channel | null;
    enabled: number | null;
    email: string | null;
    display_name: string | null;
    role: string | null;
    active: number | null;
  }>`SELECT user_id, kind, channel, enabled, NULL AS email, NULL AS display_name, NULL AS role, NULL AS active
       FROM notification_preferences WHERE user_id IN (${sql.join(ids)})
     UNION ALL
     SELECT user_id, NULL, NULL, NULL, email, display_name, role, active FROM recipients
       WHERE user_id IN (${sql.join(ids)})`.execute(db);
  for (const row of rows) {
    const entry = settings.get(row.user_id)!;
    if (row.kind !== null) {
      entry.preferences.push({ kind: row.kind, channel: row.channel!, enabled: Boolean(row.enabled) });
    } else {
      entry.recipient = {
        user_id: row.user_id,
        email: row.email!,
        display_name: row.display_name!,
        role: row.role!,
        active: Boolean(row.active),
      };
    }
  }
  return settings;
}

export async function savePreferences(
  db: Db,
  userId: string,
  entries: Array<{ kind: Kind; channel: Channel; enabled: boolean }>,
): Promise<void> {
  if (entries.length === 0) return;
  await db
    .insertInto("notification_preferences")
    .values(entries.map((e) => ({ user_id: userId, ...e })))
    .onDuplicateKeyUpdate({ enabled: sql`VALUES(enabled)` })
    .execute();
}

export async function activeAdmins(db: Db): Promise<RecipientRow[]> {
  return db.selectFrom("recipients").selectAll().where("role", "=", "admin").where("active", "=", true).execute();
}

export async function upsertRecipient(db: Db, r: { userId: string; email: string; displayName: string; role: string }) {
  await db
    .insertInto("recipients")
    .values({ user_id: r.userId, email: r.email, display_name: r.displayName, role: r.role })
    .onDuplicateKeyUpdate({ email: r.email, display_name: r.displayName, role: r.role })
    .execute();
}

/** Inserts the recipients not known yet, leaving known ones as auth's events made them; how many were new. */
export async function addMissingRecipients(
  db: Db,
  rows: Array<{ userId: string; email: string; displayName: string; role: string }>,
): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await db
    .insertInto("recipients")
    .ignore()
    .values(rows.map((r) => ({ user_id: r.userId, email: r.email, display_name: r.displayName, role: r.role })))
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n);
}

export async function updateRecipient(db: Db, userId: string, change: { role?: string; active?: boolean }) {
  await db.updateTable("recipients").set(change).where("user_id", "=", userId).execute();
}

/** Removes what the service knows of an erased user: their row, inbox, preferences and mails. */
export async function eraseRecipient(db: Db, userId: string): Promise<void> {
  // Mails to them (sent or not) hold their address, name and order details: none is kept.
  const recipient = await db.selectFrom("recipients").select("email").where("user_id", "=", userId).executeTakeFirst();
  if (recipient) await db.deleteFrom("email_outbox").where("to_address", "=", recipient.email).execute();
  await db.deleteFrom("recipients").where("user_id", "=", userId).execute();
  await db.deleteFrom("notifications").where("user_id", "=", userId).execute();
  await db.deleteFrom("notification_preferences").where("user_id", "=", userId).execute();
  // Others' notifications about them (an admin's "new sign-up") keep no name or address.
  await db
    .updateTable("notifications")
    .set({ body: "A user signed up (since erased).", subject_user_id: null })
    .where("subject_user_id", "=", userId)
    .execute();
}

export async function upsertProductOwner(
  db: Db,
  p: { productId: string; shopId: string; sellerId: string; name: string },
): Promise<void> {
  await db
    .insertInto("product_owners")
    .values({ product_id: p.productId, shop_id: p.shopId, seller_id: p.sellerId, name: p.name })
    .onDuplicateKeyUpdate({ name: p.name })
    .execute();
}

/** The known products among `productIds`, by id. */
export async function findProductOwners(db: Db, productIds: string[]) {
  const rows = await db.selectFrom("product_owners").selectAll().where("product_id", "in", productIds).execute();
  return new Map(rows.map((row) => [row.product_id, { ...row, low_stock: Boolean(row.low_stock) }]));
}

export async function setLowStock(db: Db, productId: string, low: boolean): Promise<void> {
  await db.updateTable("product_owners").set({ low_stock: low }).where("product_id", "=", productId).execute();
}

export async function renameProduct(db: Db, productId: string, name: string): Promise<void> {
  await db.updateTable("product_owners").set({ name }).where("product_id", "=", productId).execute();
}

/** Remembers whose order it is; a redelivered OrderPlaced changes nothing. */
/** Written with the transaction's other buyers just before it commits (see insertNotification). */
export async function rememberOrderBuyer(
  trx: Transaction<NotificationDatabase>,
  orderId: string,
  userId: string,
): Promise<void> {
  await gatherUntilCommit(trx, writeOrderBuyers, { order_id: orderId, user_id: userId });
}

const writeOrderBuyers = async (
  trx: Transaction<NotificationDatabase>,
  rows: Array<{ order_id: string; user_id: string }>,
) => {
  await deferStatement(trx, trx.insertInto("order_buyers").ignore().values(rows));
};

export async function buyerOfOrder(db: Db, orderId: string): Promise<string | undefined> {
  const row = await db.selectFrom("order_buyers").select("user_id").where("order_id", "=", orderId).executeTakeFirst();
  return row?.user_id;
}
