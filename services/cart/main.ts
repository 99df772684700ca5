// Wiring only: config → database → gRPC server (CartService, arriving with M4).
import { accessRules } from "../kit/auth.ts";
import { envReader, loadConfigOrExit, readServiceBaseConfig } from "../kit/config.ts";
import type { EventTables } from "../kit/events.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { notYetImplemented } from "../kit/not-implemented.ts";
import { bind } from "../kit/serve.ts";
import { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { migrations } from "./db/migrations/index.ts";

const config = loadConfigOrExit(() => readServiceBaseConfig(envReader(process.env), "cart"));

const service = startService<EventTables>({
  name: "cart",
  config,
  migrations,
  services: () => [bind(CartService, notYetImplemented(CartService, "M4"))],
  rules: [accessRules(CartService, { getCart: "user", addCartItem: "user", updateCartItem: "user", removeCartItem: "user", clearCart: "user" })],
});
runUntilSignalled(service, createLogger("cart", config.logLevel));
