// Wiring only: config → database → clients of cart, product and inventory → gRPC server.
import { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { OrderAdminService, OrderService } from "../../gen/bazaar/order/v1/order_pb.ts";
import { InventoryService, ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { accessRules } from "../kit/auth.ts";
import { createMeshClient } from "../kit/clients.ts";
import { loadConfigOrExit } from "../kit/config.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { notYetImplemented } from "../kit/not-implemented.ts";
import { bind } from "../kit/serve.ts";
import { loadOrderConfig } from "./config.ts";
import type { OrderDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { createTestPaymentProvider } from "./domain/payments.ts";
import { createOrderService } from "./order-service.ts";

const config = loadConfigOrExit(() => loadOrderConfig(process.env));
const cart = createMeshClient(CartService, config.cartAddress);
const products = createMeshClient(ProductService, config.productAddress);
const inventory = createMeshClient(InventoryService, config.productAddress);

const service = startService<OrderDatabase>({
  name: "order",
  config,
  migrations,
  services: ({ db, outbox, serviceToken }) => [
    bind(
      OrderService,
      createOrderService({
        db,
        outbox,
        payments: createTestPaymentProvider(),
        pricing: config.pricing,
        currencyCode: config.currencyCode,
        cart: cart.client,
        products: products.client,
        inventory: inventory.client,
        serviceToken,
      }),
    ),
    bind(OrderAdminService, notYetImplemented(OrderAdminService, "M4")),
  ],
  rules: [
    accessRules(OrderService, { placeOrder: "user", listOrders: "user", getOrder: "user", cancelOrder: "user", watchOrders: "user" }),
    accessRules(OrderAdminService, { listAllOrders: "service", updateOrderStatus: "service" }),
  ],
});
runUntilSignalled(service, createLogger("order", config.logLevel));
