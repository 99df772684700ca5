// Wiring only: config → database → gRPC server (AdminService, arriving with M5).
import { accessRules, type AccessRules } from "../kit/auth.ts";
import { envReader, loadConfigOrExit, readServiceBaseConfig } from "../kit/config.ts";
import type { EventTables } from "../kit/events.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { notYetImplemented } from "../kit/not-implemented.ts";
import { bind } from "../kit/serve.ts";
import { AdminService } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { migrations } from "./db/migrations/index.ts";

const config = loadConfigOrExit(() => readServiceBaseConfig(envReader(process.env), "admin"));

const service = startService<EventTables>({
  name: "admin",
  config,
  migrations,
  services: () => [bind(AdminService, notYetImplemented(AdminService, "M5"))],
  // Every admin RPC is for admins only.
  rules: [accessRules(AdminService, Object.fromEntries(AdminService.methods.map((m) => [m.localName, "admin"])) as AccessRules<typeof AdminService>)],
});
runUntilSignalled(service, createLogger("admin", config.logLevel));
