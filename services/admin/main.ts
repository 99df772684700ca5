// Wiring only: config → database → clients of auth's directory, order's admin service,
// product's shop reads, shop moderation and category editing, and payment's PaymentService →
// gRPC server, and the consumer that builds the
// audit and sales projections.
import { AdminService } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { UserDirectoryService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { DeadLetterService } from "../../gen/bazaar/events/v1/dead_letters_pb.ts";
import { OrderAdminService } from "../../gen/bazaar/order/v1/order_pb.ts";
import { PaymentService } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { CategoryAdminService, ShopAdminService, ShopService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { createMeshClient } from "../kit/clients.ts";
import { loadConfigOrExit } from "../kit/config.ts";
import { startConsumer } from "../kit/consumer.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { bind } from "../kit/serve.ts";
import { cachedShopOwners } from "../kit/shop-owners.ts";
import { adminAccessRules } from "./access-rules.ts";
import { createAdminService, type AdminServiceDeps } from "./admin-service.ts";
import { loadAdminConfig } from "./config.ts";
import type { AdminDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { applyToProjections, projectionsConsumer } from "./domain/projections.ts";

const config = loadConfigOrExit(() => loadAdminConfig(process.env));
const directory = createMeshClient(UserDirectoryService, config.authAddress);
const orders = createMeshClient(OrderAdminService, config.orderAddress);
const shops = createMeshClient(ShopAdminService, config.serviceAddresses.product);
const catalogShops = createMeshClient(ShopService, config.serviceAddresses.product);
const categories = createMeshClient(CategoryAdminService, config.serviceAddresses.product);
const payments = createMeshClient(PaymentService, config.serviceAddresses.payment);
const deadLetters = Object.fromEntries(
  Object.entries(config.serviceAddresses).map(([name, address]) => [
    name,
    createMeshClient(DeadLetterService, address).client,
  ]),
) as AdminServiceDeps["deadLetters"];

const service = startService<AdminDatabase>({
  name: "admin",
  config,
  migrations,
  services: ({ db, outbox, serviceToken }) => [
    bind(
      AdminService,
      createAdminService({
        db,
        deadLetters,
        outbox,
        directory: directory.client,
        orders: orders.client,
        shops: shops.client,
        shopOwners: cachedShopOwners(catalogShops.client),
        categories: categories.client,
        payments: payments.client,
        serviceToken,
        currencyCode: config.currencyCode,
      }),
    ),
  ],
  rules: adminAccessRules,
  consumers: ({ db, nats, log }) => [
    startConsumer<AdminDatabase>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source: "admin",
      ...projectionsConsumer,
      handle: applyToProjections,
    }),
  ],
});
runUntilSignalled(service, createLogger("admin", config.logLevel));
