// InventoryService's handlers in memory against a database of their own: only services may hold
// stock, and each refusal answers the code checkout acts on.
import { Code } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import { EventSchema, type StockChanged } from "../../gen/bazaar/events/v1/events_pb.ts";
import { InventoryService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { PreconditionFailureSchema } from "../../gen/google/rpc/error_details_pb.ts";
import { uuidv7 } from "../kit/ids.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { createTestTokens, oneOfEach, signedIn, type Callers, type SignedIn } from "../kit/testing/tokens.ts";
import type { ProductDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import {
  aProduct,
  madeCategory,
  openedShop,
  productServicesInMemory,
  type ProductServices,
} from "./product-builders.ts";

let db: Kysely<ProductDatabase>;
let services: ProductServices;
let callers: Callers;
let seller: SignedIn;
let orderService: SignedIn;
let shopId: string;
let categoryId: string;

beforeAll(async () => {
  db = await migratedTestDatabase<ProductDatabase>("inventory_handlers", migrations);
  const tokens = await createTestTokens();
  services = await productServicesInMemory(db, tokens.verifier);
  callers = await oneOfEach(tokens);
  const admin = await signedIn(tokens, "admin");
  seller = await signedIn(tokens, "seller");
  orderService = await signedIn(tokens, "service", "service:order");
  shopId = await openedShop(services, seller);
  categoryId = await madeCategory(services, admin);
});

afterAll(async () => {
  await db?.destroy();
});

async function productWithStock(stockOnHand: number): Promise<string> {
  const request = { product: aProduct(shopId, categoryId, { stockOnHand }) };
  return (await services.products.createProduct(request, seller.options)).product!.id;
}

const hold = (reservationId: string, productId: string, quantity: number) =>
  services.inventory.reserveStock({ reservationId, items: [{ productId, quantity }] }, orderService.options);

describe("who may hold stock", () => {
  it.each(
    accessMatrix(InventoryService, {
      reserveStock: "service",
      commitReservation: "service",
      releaseReservation: "service",
      returnReservation: "service",
      returnReservationItems: "service",
    }),
  )("%s", async (_story, method, caller, expected) => {
    expect(await accessOutcome(services.server.transport, method, callers[caller])).toBe(expected);
  });
});

describe("what a refused hold answers", () => {
  it("when a product is short, then ReserveStock answers failed_precondition naming it, and nothing is held", async () => {
    const [plenty, scarce] = [await productWithStock(10), await productWithStock(1)];
    const error = await failureOf(
      services.inventory.reserveStock(
        {
          reservationId: uuidv7(),
          items: [
            { productId: plenty, quantity: 2 },
            { productId: scarce, quantity: 2 },
          ],
        },
        orderService.options,
      ),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
    const [failure] = error.findDetails(PreconditionFailureSchema);
    expect(failure?.violations.map((v) => v.subject)).toEqual([scarce]);
    const { products } = await services.products.batchGetProducts({ ids: [plenty] });
    expect(products[0]?.stockAvailable).toBe(10);
  });

  it("when a reservation does not exist, then CommitReservation answers not_found", async () => {
    expect(
      (await failureOf(services.inventory.commitReservation({ reservationId: uuidv7() }, orderService.options))).code,
    ).toBe(Code.NotFound);
  });

  it("when a released reservation is reserved again, then failed_precondition: a late retry holds nothing", async () => {
    const productId = await productWithStock(5);
    const reservationId = uuidv7();
    await hold(reservationId, productId, 1);
    await services.inventory.releaseReservation({ reservationId }, orderService.options);
    expect((await failureOf(hold(reservationId, productId, 1))).code).toBe(Code.FailedPrecondition);
    expect((await failureOf(services.inventory.commitReservation({ reservationId }, orderService.options))).code).toBe(
      Code.FailedPrecondition,
    );
  });

  it("when a committed reservation is released, then failed_precondition; ReturnReservation gives its units back", async () => {
    const productId = await productWithStock(5);
    const reservationId = uuidv7();
    await hold(reservationId, productId, 2);
    await services.inventory.commitReservation({ reservationId }, orderService.options);
    expect((await failureOf(services.inventory.releaseReservation({ reservationId }, orderService.options))).code).toBe(
      Code.FailedPrecondition,
    );
    await services.inventory.returnReservation({ reservationId }, orderService.options);
    const { products } = await services.products.batchGetProducts({ ids: [productId] });
    expect(products[0]?.stockAvailable).toBe(5);
  });

  it("when the same reservation is asked for twice, then the stock is held once", async () => {
    const productId = await productWithStock(5);
    const reservationId = uuidv7();
    await hold(reservationId, productId, 3);
    await hold(reservationId, productId, 3);
    const { products } = await services.products.batchGetProducts({ ids: [productId] });
    expect(products[0]?.stockAvailable).toBe(2);
  });
});

describe("the stock events of a reservation", () => {
  /** The StockChanged events about the reservation, oldest first. */
  async function stockEventsOf(reservationId: string) {
    const rows = await db
      .selectFrom("outbox")
      .select("payload")
      .where("subject", "=", "bazaar.product.stock_changed")
      .orderBy("id")
      .execute();
    return rows
      .map((row) => fromBinary(EventSchema, row.payload))
      .filter((event) => event.subjectId === reservationId)
      .map((event) => event.payload.value as StockChanged);
  }

  it("when a reservation of two products is held, committed and returned, then each step emits one StockChanged with both products' stock after it", async () => {
    const [a, b] = [await productWithStock(10), await productWithStock(5)];
    const reservationId = uuidv7();
    const items = [
      { productId: a, quantity: 3 },
      { productId: b, quantity: 2 },
    ];
    await services.inventory.reserveStock({ reservationId, items }, orderService.options);
    await services.inventory.commitReservation({ reservationId }, orderService.options);
    await services.inventory.returnReservation({ reservationId }, orderService.options);
    const steps = (await stockEventsOf(reservationId)).map((change) => ({
      reason: change.reason,
      reservationId: change.reservationId,
      levels: change.levels.map((l) => [l.productId, l.stockOnHand, l.stockHeld, l.stockAvailable]),
    }));
    expect(steps).toEqual([
      {
        reason: "reserve",
        reservationId,
        levels: [
          [a, 10, 3, 7],
          [b, 5, 2, 3],
        ],
      },
      {
        reason: "commit",
        reservationId,
        levels: [
          [a, 7, 0, 7],
          [b, 3, 0, 3],
        ],
      },
      {
        reason: "return",
        reservationId,
        levels: [
          [a, 10, 0, 10],
          [b, 5, 0, 5],
        ],
      },
    ]);
  });
});

describe("holding and selling in one call (cash on delivery)", () => {
  const stockOf = async (id: string) => {
    const row = await db
      .selectFrom("products")
      .select(["stock_on_hand", "stock_held"])
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    return { onHand: row.stock_on_hand, held: row.stock_held };
  };
  const statusOf = async (reservationId: string) =>
    (await db.selectFrom("reservations").select("status").where("id", "=", reservationId).executeTakeFirstOrThrow())
      .status;

  it("when stock is reserved with sell_now, then it is sold at once, the reservation COMMITTED with one StockChanged, and a repeat sells nothing more", async () => {
    const [a, b] = [await productWithStock(10), await productWithStock(5)];
    const reservationId = uuidv7();
    const request = {
      reservationId,
      items: [
        { productId: a, quantity: 3 },
        { productId: b, quantity: 2 },
      ],
      sellNow: true,
    };
    await services.inventory.reserveStock(request, orderService.options);
    await services.inventory.reserveStock(request, orderService.options);
    expect([await stockOf(a), await stockOf(b)]).toEqual([
      { onHand: 7, held: 0 },
      { onHand: 3, held: 0 },
    ]);
    expect(await statusOf(reservationId)).toBe("COMMITTED");
    const events = await db
      .selectFrom("outbox")
      .select("payload")
      .where("subject", "=", "bazaar.product.stock_changed")
      .execute();
    const changes = events
      .map((row) => fromBinary(EventSchema, row.payload))
      .filter((event) => event.subjectId === reservationId)
      .map((event) => (event.payload.value as StockChanged).reason);
    expect(changes).toEqual(["commit"]);
    // A committed reservation is given back like one committed in two steps.
    await services.inventory.returnReservation({ reservationId }, orderService.options);
    expect([await stockOf(a), await stockOf(b)]).toEqual([
      { onHand: 10, held: 0 },
      { onHand: 5, held: 0 },
    ]);
  });

  it("when a reservation held without sell_now is repeated with it, then the repeat commits it", async () => {
    const productId = await productWithStock(4);
    const reservationId = uuidv7();
    await hold(reservationId, productId, 3);
    expect(await stockOf(productId)).toEqual({ onHand: 4, held: 3 });
    await services.inventory.reserveStock(
      { reservationId, items: [{ productId, quantity: 3 }], sellNow: true },
      orderService.options,
    );
    expect(await stockOf(productId)).toEqual({ onHand: 1, held: 0 });
    expect(await statusOf(reservationId)).toBe("COMMITTED");
  });

  it("when too few are available, then failed_precondition and nothing is sold", async () => {
    const [plenty, scarce] = [await productWithStock(10), await productWithStock(1)];
    const failure = await failureOf(
      services.inventory.reserveStock(
        {
          reservationId: uuidv7(),
          items: [
            { productId: plenty, quantity: 2 },
            { productId: scarce, quantity: 2 },
          ],
          sellNow: true,
        },
        orderService.options,
      ),
    );
    expect(failure.code).toBe(Code.FailedPrecondition);
    expect([await stockOf(plenty), await stockOf(scarce)]).toEqual([
      { onHand: 10, held: 0 },
      { onHand: 1, held: 0 },
    ]);
  });
});

describe("giving back part of a reservation (a shop order cancelled)", () => {
  const stockOf = async (id: string) => {
    const { products } = await services.products.batchGetProducts({ ids: [id] });
    return { onHand: products[0]!.stockOnHand, available: products[0]!.stockAvailable };
  };
  const giveBackPart = (
    reservationId: string,
    returnId: string,
    items: Array<{ productId: string; quantity: number }>,
  ) => services.inventory.returnReservationItems({ reservationId, returnId, items }, orderService.options);

  it("when a sold reservation gives back one product's units, then they are on hand again, once however often it is repeated", async () => {
    const [a, b] = [await productWithStock(10), await productWithStock(10)];
    const reservationId = uuidv7();
    await services.inventory.reserveStock(
      {
        reservationId,
        items: [
          { productId: a, quantity: 3 },
          { productId: b, quantity: 2 },
        ],
      },
      orderService.options,
    );
    await services.inventory.commitReservation({ reservationId }, orderService.options);
    const returnId = uuidv7();
    const first = await giveBackPart(reservationId, returnId, [{ productId: a, quantity: 3 }]);
    expect(first.returned.map((r) => [r.productId, r.quantity])).toEqual([[a, 3]]);
    const again = await giveBackPart(reservationId, returnId, [{ productId: a, quantity: 3 }]);
    expect(again.returned.map((r) => [r.productId, r.quantity])).toEqual([[a, 3]]);
    expect(await stockOf(a)).toEqual({ onHand: 10, available: 10 });
    expect(await stockOf(b)).toEqual({ onHand: 8, available: 8 });

    // The whole return afterwards gives back only what is left: b's units, not a's twice.
    await services.inventory.returnReservation({ reservationId }, orderService.options);
    await services.inventory.returnReservation({ reservationId }, orderService.options);
    expect(await stockOf(a)).toEqual({ onHand: 10, available: 10 });
    expect(await stockOf(b)).toEqual({ onHand: 10, available: 10 });
  });

  it("when a return asks for more than the reservation took, then it gives back only what was taken; another return id finds nothing left", async () => {
    const productId = await productWithStock(6);
    const reservationId = uuidv7();
    await hold(reservationId, productId, 2);
    await services.inventory.commitReservation({ reservationId }, orderService.options);
    const { returned } = await giveBackPart(reservationId, uuidv7(), [{ productId, quantity: 5 }]);
    expect(returned.map((r) => r.quantity)).toEqual([2]);
    expect((await giveBackPart(reservationId, uuidv7(), [{ productId, quantity: 1 }])).returned).toEqual([]);
    expect(await stockOf(productId)).toEqual({ onHand: 6, available: 6 });
  });

  it("when a held reservation gives back part, then those units are released and the commit sells only the rest", async () => {
    const productId = await productWithStock(5);
    const reservationId = uuidv7();
    await hold(reservationId, productId, 4);
    await giveBackPart(reservationId, uuidv7(), [{ productId, quantity: 1 }]);
    expect(await stockOf(productId)).toEqual({ onHand: 5, available: 2 });
    await services.inventory.commitReservation({ reservationId }, orderService.options);
    expect(await stockOf(productId)).toEqual({ onHand: 2, available: 2 });
  });

  it("when the reservation was given back as a whole, or is unknown, then a partial return gives back nothing", async () => {
    const productId = await productWithStock(4);
    const reservationId = uuidv7();
    await hold(reservationId, productId, 2);
    await services.inventory.commitReservation({ reservationId }, orderService.options);
    await services.inventory.returnReservation({ reservationId }, orderService.options);
    expect((await giveBackPart(reservationId, uuidv7(), [{ productId, quantity: 2 }])).returned).toEqual([]);
    expect((await giveBackPart(uuidv7(), uuidv7(), [{ productId, quantity: 2 }])).returned).toEqual([]);
    expect(await stockOf(productId)).toEqual({ onHand: 4, available: 4 });
  });
});
