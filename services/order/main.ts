// Wiring only: config → database → clients of cart, product, shops, inventory and payments →
// gRPC server, the payment events that continue checkout, the recovery loop and the
// announcements that wake WatchOrders streams.
import { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { OrderAdminService, OrderService, ShopOrderService } from "../../gen/bazaar/order/v1/order_pb.ts";
import { PaymentService } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { InventoryService, ProductService, ShopService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { createMeshClient } from "../kit/clients.ts";
import { loadConfigOrExit } from "../kit/config.ts";
import { cachedShopOwners } from "../kit/shop-owners.ts";
import { startConsumer } from "../kit/consumer.ts";
import { runUntilSignalled, startService, type ServiceRuntime } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { bind } from "../kit/serve.ts";
import { orderAccessRules } from "./access-rules.ts";
import { listenForOrderChanges } from "./change-announcements.ts";
import { loadOrderConfig } from "./config.ts";
import { crashingPorts } from "./crash-points.ts";
import type { OrderDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { FeedSignals } from "../kit/feed-signals.ts";
import type { OrderDeps } from "./domain/ports.ts";
import { recoverOverdueOrders } from "./domain/recovery.ts";
import { followPaymentEvents, paymentOutcomesConsumer } from "./events/payment-outcomes.ts";
import { inventoryStock, paymentServicePayments } from "./mesh-ports.ts";
import { createOrderAdminService, createOrderService } from "./order-service.ts";
import { createShopOrderService } from "./shop-order-service.ts";

const config = loadConfigOrExit(() => loadOrderConfig(process.env));
const cart = createMeshClient(CartService, config.cartAddress);
const products = createMeshClient(ProductService, config.productAddress);
const inventory = createMeshClient(InventoryService, config.productAddress);
const payments = createMeshClient(PaymentService, config.paymentAddress);
const shops = cachedShopOwners(createMeshClient(ShopService, config.productAddress).client);
const signals = new FeedSignals();

// One set for the services and the recovery job, made when the runtime first asks.
let sharedDeps: OrderDeps | undefined;
const orderDeps = ({ db, outbox, serviceToken }: ServiceRuntime<OrderDatabase>): OrderDeps =>
  (sharedDeps ??= {
    db,
    outbox,
    ...crashingPorts(
      {
        payments: paymentServicePayments(payments.client, serviceToken),
        stock: inventoryStock(inventory.client, serviceToken),
      },
      config.crashAt,
      () => process.kill(process.pid, "SIGKILL"),
    ),
    pricing: config.pricing,
    currencyCode: config.currencyCode,
    recoverAfterMs: config.recoverAfterMs,
    paymentWaitMs: config.paymentWaitMs,
    captureAtOnce: config.captureAtOnce,
  });

const service = startService<OrderDatabase>({
  name: "order",
  config,
  migrations,
  services: (runtime) => [
    bind(
      OrderService,
      createOrderService({
        ...orderDeps(runtime),
        cart: cart.client,
        products: products.client,
        feed: { db: runtime.db, signals, pollMs: config.feedPollMs },
        requireVerifiedEmail: config.requireVerifiedEmail,
      }),
    ),
    bind(
      ShopOrderService,
      createShopOrderService({
        ...orderDeps(runtime),
        feed: { db: runtime.db, signals, pollMs: config.feedPollMs },
        shops,
      }),
    ),
    bind(OrderAdminService, createOrderAdminService(orderDeps(runtime))),
  ],
  rules: orderAccessRules,
  consumers: (runtime) => [
    Promise.resolve(listenForOrderChanges(runtime.nats.nc, signals, runtime.log)),
    startConsumer<OrderDatabase>({
      js: runtime.nats.js,
      jsm: runtime.nats.jsm,
      db: runtime.db,
      log: runtime.log,
      source: "order",
      ...paymentOutcomesConsumer,
      handle: followPaymentEvents(orderDeps(runtime)),
    }),
  ],
  jobs: (runtime) => [
    {
      name: "recover overdue orders",
      everyMs: config.recoverySweepMs,
      run: () => recoverOverdueOrders(orderDeps(runtime), runtime.log),
    },
  ],
});
runUntilSignalled(service, createLogger("order", config.logLevel));
