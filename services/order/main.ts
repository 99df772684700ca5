// Wiring only: config → database → gRPC server (OrderService and OrderAdminService, arriving with M4).
import { accessRules } from "../kit/auth.ts";
import { envReader, loadConfigOrExit, readServiceBaseConfig } from "../kit/config.ts";
import type { EventTables } from "../kit/events.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { notYetImplemented } from "../kit/not-implemented.ts";
import { bind } from "../kit/serve.ts";
import { OrderAdminService, OrderService } from "../../gen/bazaar/order/v1/order_pb.ts";
import { migrations } from "./db/migrations/index.ts";

const config = loadConfigOrExit(() => readServiceBaseConfig(envReader(process.env), "order"));

const service = startService<EventTables>({
  name: "order",
  config,
  migrations,
  services: () => [
    bind(OrderService, notYetImplemented(OrderService, "M4")),
    bind(OrderAdminService, notYetImplemented(OrderAdminService, "M4")),
  ],
  rules: [
    accessRules(OrderService, { placeOrder: "user", listOrders: "user", getOrder: "user", cancelOrder: "user", watchOrders: "user" }),
    accessRules(OrderAdminService, { listAllOrders: "service", updateOrderStatus: "service" }),
  ],
});
runUntilSignalled(service, createLogger("order", config.logLevel));
