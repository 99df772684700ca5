// Card payments through the payment service: an order remembers its payment's id, and while the
// buyer must confirm it (3-D Secure) what they must do next. Frozen: later changes are new
// migrations.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("orders")
    .addColumn("payment_id", "varchar(36)", (c) => c.notNull().defaultTo(""))
    .addColumn("payment_redirect_url", "varchar(2048)", (c) => c.notNull().defaultTo(""))
    .addColumn("payment_client_secret", "varchar(255)", (c) => c.notNull().defaultTo(""))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("orders")
    .dropColumn("payment_id")
    .dropColumn("payment_redirect_url")
    .dropColumn("payment_client_secret")
    .execute();
}
