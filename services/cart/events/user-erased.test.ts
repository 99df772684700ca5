// An erased user's cart against a real MariaDB: UserErased deletes it, lines and all, leaves
// everyone else's, and applying it again finds nothing to do.
import { create } from "@bufbuild/protobuf";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSchema } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { uuidv7 } from "../../kit/ids.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import { lockAndTouchCart, readCart, setLineQuantity } from "../db/cart.repository.ts";
import type { CartDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { deleteErasedUsersCart } from "./user-erased.ts";

let db: Kysely<CartDatabase>;

beforeAll(async () => {
  db = await migratedTestDatabase<CartDatabase>("cart_user_erased", migrations);
});

afterAll(async () => {
  await db?.destroy();
});

async function cartWithLine(userId: string) {
  await db.transaction().execute(async (trx) => {
    await lockAndTouchCart(trx, userId);
    await setLineQuantity(trx, userId, uuidv7(), 2, new Date());
  });
}

const userErased = (userId: string) =>
  create(EventSchema, {
    id: uuidv7(),
    source: "auth",
    subjectId: userId,
    payload: { case: "userErased", value: { userId } },
  });

describe("an erased user's cart", () => {
  it("when UserErased arrives, then the user's cart and lines are gone, other carts stay, and a second delivery changes nothing", async () => {
    const [erased, other] = [uuidv7(), uuidv7()];
    await cartWithLine(erased);
    await cartWithLine(other);

    for (let delivery = 0; delivery < 2; delivery++)
      await db.transaction().execute((trx) => deleteErasedUsersCart(userErased(erased), trx));

    expect((await readCart(db, erased)).lines).toEqual([]);
    expect(await db.selectFrom("carts").selectAll().where("user_id", "=", erased).execute()).toEqual([]);
    expect((await readCart(db, other)).lines).toHaveLength(1);
  });
});
