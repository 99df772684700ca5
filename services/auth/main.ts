// Wiring only: config → database → keys → gRPC server (AuthService, UserDirectoryService,
// ServiceIdentityService).
import { Code, ConnectError } from "@connectrpc/connect";
import { createTokenVerifier } from "../kit/auth.ts";
import { loadConfigOrExit } from "../kit/config.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { AccountMailService } from "../../gen/bazaar/notification/v1/notification_pb.ts";
import { createMeshClient } from "../kit/clients.ts";
import { notificationAccountMailer } from "./account-mailer.ts";
import { bind } from "../kit/serve.ts";
import { AuthService, ServiceIdentityService, UserDirectoryService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { authAccessRules } from "./access-rules.ts";
import { createAuthService, createUserDirectoryService } from "./auth-service.ts";
import { loadAuthConfig } from "./config.ts";
import type { AuthDatabase } from "./db/database.ts";
import { seedDevAccounts } from "./db/demo-seed.ts";
import { migrations } from "./db/migrations/index.ts";
import { pruneSessions } from "./db/session.repository.ts";
import { startKeyManager, type KeyManager } from "./domain/key-manager.ts";
import { createServiceIdentityService } from "./service-identity-service.ts";

const config = loadConfigOrExit(() => loadAuthConfig(process.env));
const log = createLogger("auth", config.logLevel);

// Reset and verification mails go through the notification service (internal RPC).
const accountMail = createMeshClient(AccountMailService, config.notificationAddress);

// Keys need the migrated database, which the lifecycle brings up after listening; until then
// (health NOT_SERVING) a call that needs a key fails as unavailable.
let keyManager: KeyManager | undefined;
const keys: KeyManager = {
  current: () => required(keyManager).current(),
  rotate: () => required(keyManager).rotate(),
  stop: () => keyManager?.stop(),
};

const service = startService<AuthDatabase>({
  name: "auth",
  config,
  migrations,
  services: ({ db, outbox, serviceToken }) => [
    bind(
      AuthService,
      createAuthService({
        db,
        outbox,
        keys: () => keys.current(),
        keyManager: keys,
        policy: config.sessions,
        trustedProxies: config.trustedProxies,
        recovery: config.recovery,
        publicUrl: config.publicUrl,
        mailer: notificationAccountMailer(accountMail.client, serviceToken),
        log,
      }),
    ),
    bind(UserDirectoryService, createUserDirectoryService({ db, outbox })),
    bind(
      ServiceIdentityService,
      createServiceIdentityService({
        keyManager: keys,
        serviceSecret: config.serviceSecret,
        tokenTtlSeconds: config.accessTokenTtlSeconds,
      }),
    ),
  ],
  rules: authAccessRules,
  jobs: ({ db }) => [
    {
      // Failed sign-ins only matter inside the throttling window, dead refresh tokens not at all.
      name: "prune sessions",
      everyMs: 10 * 60_000,
      run: () => pruneSessions(db, new Date(Date.now() - 86_400_000), new Date()),
    },
  ],
  // Auth verifies with its own keys instead of calling itself.
  verifier: createTokenVerifier({ loadJwks: async () => keys.current().jwks() }),
  async onReady({ db }) {
    keyManager = await startKeyManager({
      db,
      configuredKeys: config.signingKeys,
      rotationMs: config.keyRotationMs,
      tokenLifetimeMs: config.accessTokenTtlSeconds * 1000,
    });
    if (config.demoSeed) {
      const created = await seedDevAccounts(db);
      if (created > 0) log.info({ created }, "dev accounts seeded");
    }
  },
});
runUntilSignalled(service, log);

function required(manager: KeyManager | undefined): KeyManager {
  if (!manager) throw new ConnectError("signing keys are not loaded yet", Code.Unavailable);
  return manager;
}
