// LOCAL DEV: the three dev accounts of DESIGN.md, created once when BAZAAR_DEMO_SEED=1.
import type { Kysely } from "kysely";
import { devAccounts } from "../../kit/dev-accounts.ts";
import { hashPassword } from "../domain/password.ts";
import type { AuthDatabase, NewUserRow } from "./database.ts";

const roles = { admin: "ADMIN", seller: "SELLER", customer: "CUSTOMER" } as const;

export async function seedDevAccounts(db: Kysely<AuthDatabase>): Promise<number> {
  const rows: NewUserRow[] = await Promise.all(
    (Object.keys(devAccounts) as Array<keyof typeof devAccounts>).map(async (key) => ({
      id: devAccounts[key].id,
      email: devAccounts[key].email,
      password_hash: await hashPassword(devAccounts[key].password),
      display_name: devAccounts[key].displayName,
      role: roles[key],
    })),
  );
  const result = await db.insertInto("users").ignore().values(rows).executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n);
}
