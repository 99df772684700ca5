// Users: the only place in the auth service with SQL about them.
import { sql, type Kysely, type Transaction } from "kysely";
import { containsPattern } from "../../kit/db.ts";
import type { User, UserRole } from "../domain/user.ts";
import type { AuthDatabase, RoleColumn, UserRow } from "./database.ts";

type Db = Kysely<AuthDatabase> | Transaction<AuthDatabase>;

const toColumn: Record<UserRole, RoleColumn> = { customer: "CUSTOMER", seller: "SELLER", admin: "ADMIN" };
const fromColumn: Record<RoleColumn, UserRole> = { CUSTOMER: "customer", SELLER: "seller", ADMIN: "admin" };

export interface UserWithSecret extends User {
  passwordHash: string;
}

export async function findUserByEmail(db: Db, email: string): Promise<UserWithSecret | undefined> {
  const row = await db.selectFrom("users").selectAll().where("email", "=", email).executeTakeFirst();
  return row && { ...toUser(row), passwordHash: row.password_hash };
}

export async function findUserById(db: Db, id: string): Promise<UserWithSecret | undefined> {
  const row = await db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
  return row && { ...toUser(row), passwordHash: row.password_hash };
}

/** Locks the user's row for the rest of the transaction. */
export async function findUserByIdForUpdate(trx: Transaction<AuthDatabase>, id: string): Promise<User | undefined> {
  const row = await trx.selectFrom("users").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
  return row && toUser(row);
}

/** Inserts a user; false when the e-mail is taken (the unique index decides, race-free). */
export async function insertUser(
  db: Db,
  user: { id: string; email: string; passwordHash: string; displayName: string; role: UserRole },
): Promise<boolean> {
  const result = await db
    .insertInto("users")
    .ignore()
    .values({
      id: user.id,
      email: user.email,
      password_hash: user.passwordHash,
      display_name: user.displayName,
      role: toColumn[user.role],
    })
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function updateProfile(
  db: Db,
  id: string,
  changes: { displayName?: string; phone?: string },
): Promise<void> {
  await db
    .updateTable("users")
    .set({
      ...(changes.displayName !== undefined && { display_name: changes.displayName }),
      ...(changes.phone !== undefined && { phone: changes.phone }),
      update_time: sql<Date>`UTC_TIMESTAMP(6)`,
    })
    .where("id", "=", id)
    .execute();
}

export async function updatePasswordHash(db: Db, id: string, passwordHash: string): Promise<void> {
  await db
    .updateTable("users")
    .set({ password_hash: passwordHash, update_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "=", id)
    .execute();
}

/** Sets the verification time once; false when it was set already. */
export async function markEmailVerified(db: Db, id: string): Promise<boolean> {
  const result = await db
    .updateTable("users")
    .set({ email_verify_time: sql<Date>`UTC_TIMESTAMP(6)`, update_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "=", id)
    .where("email_verify_time", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function setRole(db: Db, id: string, role: UserRole): Promise<void> {
  await db
    .updateTable("users")
    .set({ role: toColumn[role], update_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "=", id)
    .execute();
}

export async function setActive(db: Db, id: string, active: boolean): Promise<void> {
  await db
    .updateTable("users")
    .set({ active: active ? 1 : 0, update_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "=", id)
    .execute();
}

/** Replaces what identifies the person and deactivates the account; id, role and times stay. */
export async function eraseUserRow(
  db: Db,
  id: string,
  replacement: { email: string; passwordHash: string },
): Promise<void> {
  await db
    .updateTable("users")
    .set({
      email: replacement.email,
      password_hash: replacement.passwordHash,
      display_name: "",
      phone: "",
      active: 0,
      update_time: sql<Date>`UTC_TIMESTAMP(6)`,
    })
    .where("id", "=", id)
    .execute();
}

export async function touchLastLogin(db: Db, id: string): Promise<void> {
  await db.updateTable("users").set({ last_login_time: sql<Date>`UTC_TIMESTAMP(6)` }).where("id", "=", id).execute();
}

export interface UserQuery {
  role?: UserRole;
  active?: boolean;
  /** Substring of e-mail or display name. */
  text?: string;
  /** Keyset: only users with a smaller id (newest first). */
  beforeId?: string;
  limit: number;
}

export async function listUsers(db: Db, query: UserQuery): Promise<User[]> {
  let select = db.selectFrom("users").selectAll();
  if (query.role) select = select.where("role", "=", toColumn[query.role]);
  if (query.active !== undefined) select = select.where("active", "=", query.active ? 1 : 0);
  if (query.text) {
    const pattern = containsPattern(query.text);
    select = select.where((eb) => eb.or([eb("email", "like", pattern), eb("display_name", "like", pattern)]));
  }
  if (query.beforeId) select = select.where("id", "<", query.beforeId);
  const rows = await select.orderBy("id", "desc").limit(query.limit).execute();
  return rows.map(toUser);
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    phone: row.phone,
    role: fromColumn[row.role],
    active: Boolean(row.active),
    emailVerified: row.email_verify_time !== null,
    createTime: row.create_time,
    lastLoginTime: row.last_login_time,
  };
}
