// OrderPlaced emptying the buyer's cart against a real MariaDB: each bought quantity comes off its
// line, a line bought whole goes, and what was added after checkout read the cart stays.
import { create } from "@bufbuild/protobuf";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSchema } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { inTransaction } from "../../kit/db.ts";
import { timeOfUuidv7, uuidv7 } from "../../kit/ids.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import { readCart } from "../db/cart.repository.ts";
import type { CartDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { removePurchasedItems } from "./order-placed.ts";

let db: Kysely<CartDatabase>;

beforeAll(async () => {
  db = await migratedTestDatabase<CartDatabase>("cart_order_placed", migrations);
});

afterAll(async () => {
  await db?.destroy();
});

describe("a placed order in its buyer's cart", () => {
  it("when the order bought one line whole and part of another, then the first goes, the second keeps the rest, and lines not bought or added later stay", async () => {
    const userId = uuidv7();
    const [tea, cups, pot, spoon] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
    const orderId = uuidv7();
    const before = new Date(timeOfUuidv7(orderId).getTime() - 1_000);
    const after = new Date(timeOfUuidv7(orderId).getTime() + 1_000);
    await db
      .insertInto("cart_lines")
      .values([
        { user_id: userId, product_id: tea, quantity: 3, add_time: before },
        { user_id: userId, product_id: cups, quantity: 5, add_time: before },
        { user_id: userId, product_id: pot, quantity: 1, add_time: before },
        // Cleared and filled again before the event arrived: not part of this order.
        { user_id: userId, product_id: spoon, quantity: 2, add_time: after },
      ])
      .execute();
    const event = create(EventSchema, {
      id: uuidv7(),
      source: "order",
      payload: {
        case: "orderPlaced",
        value: {
          orderId,
          userId,
          items: [
            { productId: tea, quantity: 3 },
            { productId: cups, quantity: 2 },
            { productId: spoon, quantity: 2 },
          ],
        },
      },
    });
    await inTransaction(db, (trx) => removePurchasedItems(event, trx));
    const left = (await readCart(db, userId)).lines.map((line) => [line.productId, line.quantity]).sort();
    expect(left).toEqual(
      [
        [cups, 3],
        [pot, 1],
        [spoon, 2],
      ].sort(),
    );
  });
});
