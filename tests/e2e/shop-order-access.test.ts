// Who reaches a seller's shop orders, over the real mesh: a buyer orders from two sellers' shops,
// then every ShopOrderService RPC is called on the first seller's shop (or shop order) by its
// owner, another seller, the buyer themself, an anonymous caller and an admin. The refused calls
// answer UNAUTHENTICATED, PERMISSION_DENIED or NOT_FOUND and change nothing, read back as the
// owner; the owner and the admin get through. Most calls go through the edge over Connect; some
// over gRPC through the edge and over REST (every REST answer checked against /openapi.json).
import { randomBytes, randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import {
  type Order,
  PaymentMethod,
  ShopOrderService,
  ShopOrderStatus,
  type ShopOrder,
} from "../../gen/bazaar/order/v1/order_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { errorInfoOf } from "../../services/kit/error-info.ts";
import { bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { callRest } from "../support/rest.ts";
import { devSellerShelf, registerCustomer, signIn } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh();
const { auth, shops, products, carts, orders, shopOrders } = e2e;

type Who = "the owner" | "another seller" | "the buyer" | "an anonymous caller" | "an admin";

/** Call options and bearer token of each kind of caller, and the two shops. */
const world = {} as {
  callers: Record<Who, CallOptions>;
  tokens: Record<Who, string | undefined>;
  ownerShopId: string;
  otherShopId: string;
  categoryId: string;
};

const address = {
  recipientName: "Ada",
  line1: "1 Access Lane",
  city: "Berlin",
  postalCode: "10999",
  countryCode: "DE",
};

beforeAll(async () => {
  const owner = await devSellerShelf(auth, products);
  const rival = await auth.register({
    email: `rival-seller-${randomBytes(4).toString("hex")}@example.test`,
    password: "password-123",
    displayName: "Rival",
    role: Role.SELLER,
  });
  const asRival = bearer(rival.tokens!.accessToken);
  const { shop } = await shops.createShop(
    {
      shop: {
        name: "Rival Goods",
        description: "The other seller's shop",
        address: { line1: "2 Rival Road", city: "Berlin", countryCode: "DE" },
        location: { latitude: 52.52, longitude: 13.405 },
      },
    },
    asRival,
  );
  const buyer = await registerCustomer(auth, "access-buyer");
  const callers: Record<Who, CallOptions> = {
    "the owner": owner.asSeller,
    "another seller": asRival,
    "the buyer": buyer,
    "an anonymous caller": {},
    "an admin": await signIn(auth, devAccounts.admin),
  };
  const tokenOf = (options: CallOptions) =>
    new Headers(options.headers).get("authorization")?.slice("Bearer ".length) ?? undefined;
  Object.assign(world, {
    callers,
    tokens: Object.fromEntries(Object.entries(callers).map(([who, options]) => [who, tokenOf(options)])),
    ownerShopId: owner.shopId,
    otherShopId: shop!.id,
    categoryId: owner.categoryId,
  });
});

/** A product of the shop, sold by whoever is signed in as `seller`. */
async function shelved(shopId: string, seller: CallOptions, cents: bigint) {
  const { product } = await products.createProduct(
    {
      product: {
        shopId,
        categoryId: world.categoryId,
        name: `Access item ${randomBytes(3).toString("hex")}`,
        price: { currencyCode: "USD", amountMinor: cents },
        stockOnHand: 20,
      },
    },
    seller,
  );
  return product!.id;
}

/** The buyer's confirmed order of one unit from each seller's shop; the owner's shop order of it. */
async function orderFromBothShops(): Promise<{ order: Order; mine: ShopOrder; theirs: ShopOrder }> {
  const { callers } = world;
  const ours = await shelved(world.ownerShopId, callers["the owner"], 1250n);
  const rivals = await shelved(world.otherShopId, callers["another seller"], 3399n);
  await carts.addCartItem({ productId: ours, quantity: 1 }, callers["the buyer"]);
  await carts.addCartItem({ productId: rivals, quantity: 1 }, callers["the buyer"]);
  const { order } = await orders.placeOrder(
    { idempotencyKey: randomUUID(), shippingAddress: address, payment: { method: PaymentMethod.CASH_ON_DELIVERY } },
    callers["the buyer"],
  );
  expect(order!.shopOrders).toHaveLength(2);
  // Let the cart service empty the cart (OrderPlaced) before the next order fills it again.
  for (let i = 0; i < 100 && (await carts.getCart({}, callers["the buyer"])).cart!.items.length > 0; i++)
    await new Promise((r) => setTimeout(r, 50));
  return {
    order: order!,
    mine: order!.shopOrders.find((s) => s.shopId === world.ownerShopId)!,
    theirs: order!.shopOrders.find((s) => s.shopId === world.otherShopId)!,
  };
}

/** The first update of WatchShopOrders replaying the last hour, or the call's failure. */
async function firstUpdate(client: Client<typeof ShopOrderService>, shopId: string, options: CallOptions) {
  const abort = new AbortController();
  const sinceTime = timestampFromDate(new Date(Date.now() - 3_600_000));
  try {
    for await (const update of client.watchShopOrders(
      { shopId, sinceTime },
      { ...options, signal: abort.signal, timeoutMs: 10_000 },
    ))
      return update;
    throw new Error("the stream ended without an update");
  } finally {
    abort.abort();
  }
}

type Rpc =
  | "ListShopOrders"
  | "GetShopOrder"
  | "AcceptShopOrder"
  | "ShipShopOrder"
  | "DeliverShopOrder"
  | "CancelShopOrder"
  | "WatchShopOrders";

/** Each RPC aimed at the owner's shop, or at the owner's shop order `id`. */
const calls: Record<
  Rpc,
  (client: Client<typeof ShopOrderService>, id: string, options: CallOptions) => Promise<unknown>
> = {
  ListShopOrders: (client, _id, options) => client.listShopOrders({ shopId: world.ownerShopId }, options),
  GetShopOrder: (client, id, options) => client.getShopOrder({ id }, options),
  AcceptShopOrder: (client, id, options) => client.acceptShopOrder({ id, note: "not yours" }, options),
  ShipShopOrder: (client, id, options) =>
    client.shipShopOrder({ id, carrier: "DHL", trackingNumber: "JJD0001" }, options),
  DeliverShopOrder: (client, id, options) => client.deliverShopOrder({ id }, options),
  CancelShopOrder: (client, id, options) => client.cancelShopOrder({ id, reason: "not yours" }, options),
  WatchShopOrders: (client, _id, options) => firstUpdate(client, world.ownerShopId, options),
};

// Naming a shop that is not yours is refused openly (shops are public); naming a shop order
// that is not yours is answered like a missing one.
const refusals: Record<Rpc, Record<"another seller" | "the buyer" | "an anonymous caller", Code>> = {
  ListShopOrders: {
    "another seller": Code.PermissionDenied,
    "the buyer": Code.PermissionDenied,
    "an anonymous caller": Code.Unauthenticated,
  },
  GetShopOrder: {
    "another seller": Code.NotFound,
    "the buyer": Code.PermissionDenied,
    "an anonymous caller": Code.Unauthenticated,
  },
  AcceptShopOrder: {
    "another seller": Code.NotFound,
    "the buyer": Code.PermissionDenied,
    "an anonymous caller": Code.Unauthenticated,
  },
  ShipShopOrder: {
    "another seller": Code.NotFound,
    "the buyer": Code.PermissionDenied,
    "an anonymous caller": Code.Unauthenticated,
  },
  DeliverShopOrder: {
    "another seller": Code.NotFound,
    "the buyer": Code.PermissionDenied,
    "an anonymous caller": Code.Unauthenticated,
  },
  CancelShopOrder: {
    "another seller": Code.NotFound,
    "the buyer": Code.PermissionDenied,
    "an anonymous caller": Code.Unauthenticated,
  },
  WatchShopOrders: {
    "another seller": Code.PermissionDenied,
    "the buyer": Code.PermissionDenied,
    "an anonymous caller": Code.Unauthenticated,
  },
};

const refusedCases = Object.entries(refusals).flatMap(([rpc, byCaller]) =>
  Object.entries(byCaller).map(([who, code]) => ({ rpc: rpc as Rpc, who: who as Who, code })),
);

describe("the BOLA matrix of ShopOrderService", () => {
  let placed: Awaited<ReturnType<typeof orderFromBothShops>>;
  let before: ShopOrder;

  beforeAll(async () => {
    placed = await orderFromBothShops();
    before = (await shopOrders.getShopOrder({ id: placed.mine.id }, world.callers["the owner"])).shopOrder!;
    expect(before.status).toBe(ShopOrderStatus.CONFIRMED);
  });

  it.each(refusedCases)(
    "when $who calls $rpc on the owner's shop order, then $code (Connect via the edge)",
    async ({ rpc, who, code }) => {
      const failure = await failureOf(calls[rpc](shopOrders, placed.mine.id, world.callers[who]));
      expect(Code[failure.code]).toBe(Code[code]);
      if (who === "another seller" && code === Code.PermissionDenied)
        expect(errorInfoOf(failure)).toEqual({ reason: "SHOP_NOT_OWNED", metadata: { shop_id: world.ownerShopId } });
    },
  );

  it("when the refused callers call over gRPC through the edge, then the same codes", async () => {
    const overGrpc = createClient(ShopOrderService, createGrpcTransport({ baseUrl: e2e.mesh.edgeUrl }));
    for (const { rpc, who, code } of refusedCases) {
      const failure = await failureOf(calls[rpc](overGrpc, placed.mine.id, world.callers[who]));
      expect(`${rpc} by ${who}: ${Code[failure.code]}`).toBe(`${rpc} by ${who}: ${Code[code]}`);
    }
  });

  it("when the refused callers use the REST routes, then 403, 404 and 401 as documented", async () => {
    const { tokens } = world;
    const id = placed.mine.id;
    const listing = `/v1/shops/${world.ownerShopId}/orders`;
    const rival = await callRest(e2e.mesh.edgeUrl, "GET", listing, { token: tokens["another seller"] });
    expect(rival.status).toBe(403);
    expect(rival.body.code).toBe("permission_denied");
    expect(await callRest(e2e.mesh.edgeUrl, "GET", listing, { token: tokens["the buyer"] })).toMatchObject({
      status: 403,
    });
    expect((await callRest(e2e.mesh.edgeUrl, "GET", listing)).status).toBe(401);
    // Each body valid, so what refuses the call is who makes it.
    for (const [move, body] of [
      ["accept", {}],
      ["deliver", {}],
      ["cancel", { reason: "not yours" }],
    ] as const) {
      const path = `/v1/shop-orders/${id}:${move}`;
      expect((await callRest(e2e.mesh.edgeUrl, "POST", path, { token: tokens["another seller"], body })).status).toBe(
        404,
      );
      expect((await callRest(e2e.mesh.edgeUrl, "POST", path, { token: tokens["the buyer"], body })).status).toBe(403);
      expect((await callRest(e2e.mesh.edgeUrl, "POST", path, { body })).status).toBe(401);
    }
    const ship = { carrier: "DHL", trackingNumber: "JJD0002" };
    const shipPath = `/v1/shop-orders/${id}:ship`;
    expect(
      (await callRest(e2e.mesh.edgeUrl, "POST", shipPath, { token: tokens["another seller"], body: ship })).status,
    ).toBe(404);
    expect(
      (await callRest(e2e.mesh.edgeUrl, "GET", `/v1/shop-orders/${id}`, { token: tokens["another seller"] })).status,
    ).toBe(404);
  });

  it("after every refused call, then the owner reads the shop order, its order and the other shop's unchanged", async () => {
    const owner = world.callers["the owner"];
    const after = (await shopOrders.getShopOrder({ id: placed.mine.id }, owner)).shopOrder!;
    expect(after).toEqual(before);
    expect(after.statusHistory.map((h) => h.status)).toEqual([ShopOrderStatus.PENDING, ShopOrderStatus.CONFIRMED]);
    expect(after.carrier).toBe("");
    const listed = (await shopOrders.listShopOrders({ shopId: world.ownerShopId, pageSize: 100 }, owner)).shopOrders;
    expect(listed.find((s) => s.id === placed.mine.id)).toEqual(before);
    const { order } = await orders.getOrder({ id: placed.order.id }, world.callers["the buyer"]);
    expect(order!.status).toBe(placed.order.status);
    expect(order!.statusHistory).toHaveLength(placed.order.statusHistory.length);
    expect(order!.shopOrders.find((s) => s.id === placed.theirs.id)!.status).toBe(ShopOrderStatus.CONFIRMED);
  });
});

describe("the callers who get through", () => {
  it.each(["the owner", "an admin"] as const)(
    "when %s lists, reads and watches the owner's shop, then the shop order is there, and nothing of the other shop",
    async (who) => {
      const { mine, theirs } = await orderFromBothShops();
      const options = world.callers[who];
      const listed = (await shopOrders.listShopOrders({ shopId: world.ownerShopId, pageSize: 100 }, options))
        .shopOrders;
      expect(listed.map((s) => s.id)).toContain(mine.id);
      expect(listed.map((s) => s.id)).not.toContain(theirs.id);
      expect(listed.every((s) => s.shopId === world.ownerShopId)).toBe(true);
      expect((await shopOrders.getShopOrder({ id: mine.id }, options)).shopOrder!.id).toBe(mine.id);
      const update = await firstUpdate(shopOrders, world.ownerShopId, options);
      expect(update.shopOrder!.shopId).toBe(world.ownerShopId);
    },
  );

  it.each(["the owner", "an admin"] as const)(
    "when %s accepts, ships and delivers the owner's shop order, then it moves each time",
    async (who) => {
      const { mine } = await orderFromBothShops();
      const options = world.callers[who];
      expect((await shopOrders.acceptShopOrder({ id: mine.id }, options)).shopOrder!.status).toBe(
        ShopOrderStatus.PROCESSING,
      );
      const shipped = await shopOrders.shipShopOrder(
        { id: mine.id, carrier: "DHL", trackingNumber: "JJD0003" },
        options,
      );
      expect(shipped.shopOrder).toMatchObject({ status: ShopOrderStatus.SHIPPED, trackingNumber: "JJD0003" });
      expect((await shopOrders.deliverShopOrder({ id: mine.id }, options)).shopOrder!.status).toBe(
        ShopOrderStatus.DELIVERED,
      );
    },
  );

  it("when the other seller lists their own shop, then only their shop order is there; the owner is refused it", async () => {
    const { mine, theirs } = await orderFromBothShops();
    const rival = world.callers["another seller"];
    const listed = (await shopOrders.listShopOrders({ shopId: world.otherShopId, pageSize: 100 }, rival)).shopOrders;
    expect(listed.map((s) => s.id)).toContain(theirs.id);
    expect(listed.map((s) => s.id)).not.toContain(mine.id);
    const refused = await failureOf(
      shopOrders.listShopOrders({ shopId: world.otherShopId }, world.callers["the owner"]),
    );
    expect(refused.code).toBe(Code.PermissionDenied);
  });

  it("when anyone names a shop that does not exist, then not_found", async () => {
    for (const who of ["the owner", "an admin"] as const) {
      const failure = await failureOf(shopOrders.listShopOrders({ shopId: randomUUID() }, world.callers[who]));
      expect(failure.code).toBe(Code.NotFound);
    }
  });
});

describe("a time range over REST", () => {
  it("when the owner lists with createdAfter and createdBefore in the query, then only the shop orders created in between", async () => {
    const first = await orderFromBothShops();
    await new Promise((r) => setTimeout(r, 5));
    const second = await orderFromBothShops();
    const token = world.tokens["the owner"];
    const path = (query: string) => `/v1/shops/${world.ownerShopId}/orders?pageSize=100&${query}`;
    const createTimeOf = async (id: string) =>
      (await callRest(e2e.mesh.edgeUrl, "GET", `/v1/shop-orders/${id}`, { token })).body.shopOrder.createTime as string;
    const [firstTime, secondTime] = [await createTimeOf(first.mine.id), await createTimeOf(second.mine.id)];

    const between = await callRest(
      e2e.mesh.edgeUrl,
      "GET",
      path(`createdAfter=${firstTime}&createdBefore=${secondTime}`),
      {
        token,
      },
    );
    expect(between.status).toBe(200);
    expect(between.body.shopOrders.map((s: { id: string }) => s.id)).toEqual([first.mine.id]);
    const since = await callRest(e2e.mesh.edgeUrl, "GET", path(`created_after=${secondTime}`), { token });
    expect(since.body.shopOrders.map((s: { id: string }) => s.id)).toEqual([second.mine.id]);

    const backwards = await callRest(
      e2e.mesh.edgeUrl,
      "GET",
      path(`createdAfter=${secondTime}&createdBefore=${firstTime}`),
      { token },
    );
    expect(backwards.status).toBe(400);
    expect(backwards.body.message).toContain("created_after");
  });
});
