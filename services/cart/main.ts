// Wiring only: config → database → product client → gRPC server (CartService) + event consumers.
import { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { createMeshClient } from "../kit/clients.ts";
import { loadConfigOrExit } from "../kit/config.ts";
import { startConsumer } from "../kit/consumer.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { bind } from "../kit/serve.ts";
import { cartAccessRules } from "./access-rules.ts";
import { createCartService } from "./cart-service.ts";
import { loadCartConfig } from "./config.ts";
import type { CartDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { orderPlacedConsumer, removePurchasedItems } from "./events/order-placed.ts";
import { applyProductEvent, productSnapshotsConsumer } from "./events/product-snapshots.ts";
import { deleteErasedUsersCart, userErasedConsumer } from "./events/user-erased.ts";
import { productCatalogOver } from "./product-catalog.ts";

const config = loadConfigOrExit(() => loadCartConfig(process.env));
const products = createMeshClient(ProductService, config.productAddress);
const catalog = productCatalogOver(products.client);

const service = startService<CartDatabase>({
  name: "cart",
  config,
  migrations,
  services: ({ db }) => [
    bind(
      CartService,
      createCartService({ db, catalog, currencyCode: config.currencyCode, productMaxAgeMs: config.productMaxAgeMs }),
    ),
  ],
  rules: cartAccessRules,
  consumers: ({ db, nats, log }) => [
    startConsumer<CartDatabase>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source: "cart",
      ...productSnapshotsConsumer,
      handle: applyProductEvent,
    }),
    startConsumer<CartDatabase>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source: "cart",
      ...orderPlacedConsumer,
      handle: removePurchasedItems,
    }),
    startConsumer<CartDatabase>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source: "cart",
      ...userErasedConsumer,
      handle: deleteErasedUsersCart,
    }),
  ],
});
runUntilSignalled(service, createLogger("cart", config.logLevel));
