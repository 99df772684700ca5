// Wiring only: config → database → gRPC server (AuthService, UserDirectoryService).
import { loadConfigOrExit } from "../kit/config.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { notYetImplemented } from "../kit/not-implemented.ts";
import { bind } from "../kit/serve.ts";
import { AuthService, UserDirectoryService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { loadAuthConfig } from "./config.ts";
import type { AuthDatabase } from "./db/database.ts";
import { seedDevAccounts } from "./db/demo-seed.ts";
import { migrations } from "./db/migrations/index.ts";

const config = loadConfigOrExit(() => loadAuthConfig(process.env));

const service = startService<AuthDatabase>({
  name: "auth",
  config,
  migrations,
  services: () => [
    bind(AuthService, notYetImplemented(AuthService, "M2")),
    bind(UserDirectoryService, notYetImplemented(UserDirectoryService, "M2")),
  ],
  async onReady({ db, log }) {
    if (config.demoSeed) {
      const created = await seedDevAccounts(db);
      if (created > 0) log.info({ created }, "dev accounts seeded");
    }
  },
});
runUntilSignalled(service, createLogger("auth", config.logLevel));
