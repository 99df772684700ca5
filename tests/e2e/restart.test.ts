// The mesh started again on the data it left behind, as `npm start` after Ctrl-C: the same MariaDB
// data dir and NATS store. Every public read through the edge answers exactly as before and a
// checkout goes through; then the same when MariaDB alone restarts under the running mesh. Search
// once answered internal on every query after such a restart: InnoDB had persisted a row count
// of 0 for the catalog, and its relevance, tf × log10(rows / matches)², became infinite.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderStatus, PaymentMethod } from "../../gen/bazaar/order/v1/order_pb.ts";
import { ProductOrder } from "../../gen/bazaar/product/v1/product_pb.ts";
import { type RunningServer, startMariaDb, startNats } from "../../deploy/local/infra.ts";
import { launchMesh, type RunningMesh } from "../../deploy/local/mesh.ts";
import { serviceNatsEnv } from "../../deploy/local/nats-users.ts";
import { firstFreePortFrom } from "../../deploy/local/ports.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { unthrottled } from "../support/edge-limits.ts";
import { callRest } from "../support/rest.ts";
import { registerCustomer, signIn } from "../support/shoppers.ts";
import { publicClients, type PublicClients } from "../support/use-mesh.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
// As tests/support/mesh.ts: a port range per vitest worker, so no other test file's mesh can
// take a port this one picked. MariaDB keeps its port across its restart; the mesh follows it.
const portBase = 20_000 + (Number(process.env.VITEST_POOL_ID ?? 1) % 10) * 1_000 + Math.floor(Math.random() * 50) * 10;

let dataDir = "";
let mysqlPort = 0;
let mysql: RunningServer | undefined;
let nats: RunningServer | undefined;
let mesh: RunningMesh | undefined;
let api: PublicClients & { edgeUrl: string };

/** What `npm start` runs: MariaDB and NATS on the data dir, the services and the edge. */
async function start(): Promise<void> {
  mysql = await startMariaDb({ dataDir, port: mysqlPort });
  nats = await startNats({ dataDir });
  const running = await launchMesh({
    root,
    freePorts: true,
    portBase: mysqlPort + 1,
    env: {
      ...process.env,
      BAZAAR_MYSQL_URL: mysql.url,
      BAZAAR_NATS_URL: nats.url,
      ...serviceNatsEnv(nats.url),
      BAZAAR_NATS_STREAM_REPLICAS: "1",
      BAZAAR_DEMO_SEED: "1",
      BAZAAR_LOG_LEVEL: "warn",
      // Every read reaches the services: an answer the edge kept from before would prove nothing.
      BAZAAR_EDGE_PUBLIC_MAX_AGE_S: "0",
      ...unthrottled,
    },
  });
  mesh = running;
  await running.ready(90_000).catch((error: Error) => {
    const logs = running.processes.map((name) => `--- ${name}\n${running.recentLogs(name).join("\n")}`).join("\n");
    throw new Error(`${error.message}\n${logs}`);
  });
  api = {
    edgeUrl: running.edgeUrl,
    ...publicClients(createConnectTransport({ baseUrl: running.edgeUrl, httpVersion: "1.1" })),
  };
}

/** Ctrl-C: the mesh first, then its servers. */
async function stop(): Promise<void> {
  await mesh?.stop();
  await Promise.all([nats?.stop(), mysql?.stop()]);
}

/**
 * A call as a client makes it across a restart: unavailable (a server not yet back, a pooled
 * connection MariaDB closed) is retried for a while; any other failure fails the test at once.
 */
async function settled<T>(call: () => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + 20_000;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (ConnectError.from(error).code !== Code.Unavailable || Date.now() > giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

type Caller = { headers: Record<string, string> };
interface World {
  asCustomer: Caller & { id: string };
  asSeller: Caller;
  asAdmin: Caller;
  word: string;
  productId: string;
  shopId: string;
  categoryId: string;
  espressoId: string;
  orderIds: string[];
}
let world: World;

const address = {
  recipientName: "Restart",
  line1: "1 Same Data Street",
  city: "Berlin",
  postalCode: "10999",
  countryCode: "DE",
};

/** A checkout by card of one unit of the world's product, then the cart refilled for GetCart to show. */
async function checkout(): Promise<void> {
  const { asCustomer, productId, espressoId } = world;
  await settled(() => api.carts.addCartItem({ productId, quantity: 1 }, asCustomer));
  const { order } = await settled(() =>
    api.orders.placeOrder(
      {
        idempotencyKey: randomUUID(),
        shippingAddress: address,
        payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
      },
      asCustomer,
    ),
  );
  expect(order!.status).toBe(OrderStatus.CONFIRMED);
  world.orderIds.push(order!.id);
  // The cart empties on the OrderPlaced event; refill it once it has.
  const emptied = await eventually(
    () => api.carts.getCart({}, asCustomer),
    ({ cart }) => cart!.items.length === 0,
    10_000,
  );
  expect(emptied.cart!.items).toEqual([]);
  await api.carts.addCartItem({ productId: espressoId, quantity: 2 }, asCustomer);
  // The admin projections follow the events: wait until they show every order.
  const projected = await eventually(
    () => api.admin.listOrders({ userId: asCustomer.id }, world.asAdmin),
    ({ orders }) => orders.length === world.orderIds.length,
    10_000,
  );
  expect(projected.orders.map((o) => o.id).sort()).toEqual([...world.orderIds].sort());
}

async function searchPages(query: string) {
  const first = await settled(() => api.products.searchProducts({ query, pageSize: 3 }));
  const second = first.nextPageToken
    ? await settled(() => api.products.searchProducts({ query, pageSize: 3, pageToken: first.nextPageToken }))
    : undefined;
  return { first, second };
}

/** Every public read of the world through the edge, as comparable values. */
async function readEverything() {
  const { asCustomer, asAdmin, word, productId, shopId, espressoId, orderIds } = world;
  const { products, shops, carts, orders, auth, admin } = api;
  const newest = await settled(() => products.listProducts({ pageSize: 100 }));
  const cheapest = await settled(() => products.listProducts({ orderBy: ProductOrder.PRICE_ASC, pageSize: 5 }));
  const restSearch = await settled(async () => {
    const { status, body } = await callRest(api.edgeUrl, "GET", "/v1/products:search?query=espresso");
    if (status === 503) throw new ConnectError("edge answered 503", Code.Unavailable);
    return { status, body };
  });
  return {
    me: await settled(() => auth.getMe({}, asCustomer)),
    product: await settled(() => products.getProduct({ id: productId })),
    batch: await settled(() => products.batchGetProducts({ ids: [productId, espressoId] })),
    newest,
    cheapest: {
      first: cheapest,
      second: await settled(() =>
        products.listProducts({ orderBy: ProductOrder.PRICE_ASC, pageSize: 5, pageToken: cheapest.nextPageToken }),
      ),
    },
    searches: {
      espresso: await searchPages("espresso"),
      coffee: await searchPages("coffee"),
      several: await searchPages("coffee beans tea"),
      word: await searchPages(word),
    },
    restSearch,
    categories: await settled(() => products.listCategories({})),
    shop: await settled(() => shops.getShop({ id: shopId })),
    shopsNearby: await settled(() =>
      shops.listShops({ location: { latitude: 52.52, longitude: 13.405 }, radiusKm: 20 }),
    ),
    cart: await settled(() => carts.getCart({}, asCustomer)),
    orders: await settled(() => orders.listOrders({}, asCustomer)),
    order: await settled(() => orders.getOrder({ id: orderIds[0]! }, asCustomer)),
    adminOrders: await settled(() => admin.listOrders({ userId: asCustomer.id }, asAdmin)),
  };
}

type Snapshot = Awaited<ReturnType<typeof readEverything>>;

function expectSane(snapshot: Snapshot): void {
  expect(snapshot.searches.espresso.first.products[0]!.name).toBe("Espresso Beans 1kg");
  expect(snapshot.searches.coffee.second?.products.length).toBeGreaterThan(0);
  expect(snapshot.searches.word.first.products.map((p) => p.id)).toContain(world.productId);
  expect(snapshot.restSearch.status).toBe(200);
  expect(snapshot.restSearch.body.products.map((p: { id: string }) => p.id)).toEqual(
    snapshot.searches.espresso.first.products.map((p) => p.id),
  );
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "bazaar-restart-"));
  mysqlPort = await firstFreePortFrom(portBase);
  await start();
  const asSeller = await signIn(api.auth, devAccounts.seller);
  const asAdmin = await signIn(api.auth, devAccounts.admin);
  const asCustomer = await registerCustomer(api.auth, "restart");
  const espresso = (await api.products.searchProducts({ query: "espresso" })).products[0]!;
  const word = `restart${randomBytes(3).toString("hex")}`;
  const { product } = await api.products.createProduct(
    {
      product: {
        shopId: espresso.shopId,
        categoryId: espresso.categoryId,
        name: `Kettle ${word}`,
        description: "A kettle that outlives restarts.",
        tags: [word, "coffee"],
        price: { currencyCode: "USD", amountMinor: 2500n },
        stockOnHand: 50,
      },
    },
    asSeller,
  );
  world = {
    asCustomer,
    asSeller,
    asAdmin,
    word,
    productId: product!.id,
    shopId: espresso.shopId,
    categoryId: espresso.categoryId,
    espressoId: espresso.id,
    orderIds: [],
  };
  await checkout();
}, 180_000);

afterAll(async () => {
  await stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe("a restart on the same data", () => {
  it("when the mesh, MariaDB and NATS stop and start again (npm start, Ctrl-C, npm start), then every read answers as before and a checkout goes through", async () => {
    const before = await readEverything();
    expectSane(before);

    await stop();
    await start();

    const after = await readEverything();
    expect(after).toEqual(before);
    // A page token handed out before the restart still continues where it left off.
    const token = before.searches.coffee.first.nextPageToken;
    expect(
      await settled(() => api.products.searchProducts({ query: "coffee", pageSize: 3, pageToken: token })),
    ).toEqual(before.searches.coffee.second);
    await checkout();
  }, 120_000);

  it("when MariaDB alone restarts under the running mesh, then every read answers as before and a checkout goes through", async () => {
    // A product added since the start: InnoDB counts it in memory, but had not persisted it.
    await api.products.createProduct(
      {
        product: {
          shopId: world.shopId,
          categoryId: world.categoryId,
          name: `Grinder ${world.word}`,
          tags: ["coffee"],
          price: { currencyCode: "USD", amountMinor: 4500n },
          stockOnHand: 5,
        },
      },
      world.asSeller,
    );
    const before = await readEverything();
    expectSane(before);

    await mysql!.stop();
    mysql = await startMariaDb({ dataDir, port: mysqlPort });
    await mesh!.ready(60_000);

    const after = await readEverything();
    expect(after).toEqual(before);
    const token = before.searches.coffee.first.nextPageToken;
    expect(
      await settled(() => api.products.searchProducts({ query: "coffee", pageSize: 3, pageToken: token })),
    ).toEqual(before.searches.coffee.second);
    await checkout();
  }, 120_000);
});
