// The auth service's handlers in memory against a database of their own, signing with a key ring
// of their own and verifying callers with it as auth's main.ts does: who may call what, and which
// code each refusal answers.
import { randomBytes } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, type Client } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService, ServiceIdentityService, UserDirectoryService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.ts";
import { createTokenVerifier } from "../kit/auth.ts";
import { uuidv7 } from "../kit/ids.ts";
import { createLogger } from "../kit/log.ts";
import { bind } from "../kit/serve.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { bearer, failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { eventually } from "../kit/testing/eventually.ts";
import { serveInMemory, type InMemoryServer } from "../kit/testing/in-memory.ts";
import { oneOfEach, signedIn, type Callers, type SignedIn, type TokenSigner } from "../kit/testing/tokens.ts";
import { authAccessRules } from "./access-rules.ts";
import { createAuthService, createUserDirectoryService } from "./auth-service.ts";
import type { AuthDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import type { KeyManager } from "./domain/key-manager.ts";
import { generateSigningKey, keyPublishDelayMs, KeyRing } from "./domain/signing-keys.ts";
import { issueAccessToken } from "./domain/tokens.ts";
import { createServiceIdentityService } from "./service-identity-service.ts";

const serviceSecret = "a-mesh-secret-of-at-least-32-characters";
const failureWindowSeconds = 900;
let db: Kysely<AuthDatabase>;
let server: InMemoryServer;
let auth: Client<typeof AuthService>;
let directory: Client<typeof UserDirectoryService>;
let callers: Callers;
let adminService: SignedIn;

beforeAll(async () => {
  db = await migratedTestDatabase<AuthDatabase>("auth_handlers", migrations);
  // Published long enough ago to sign, as a key is after its first two minutes.
  const ring = await KeyRing.from([await generateSigningKey(new Date(Date.now() - 2 * keyPublishDelayMs))]);
  const keyManager: KeyManager = { current: () => ring, rotate: async () => ring, stop() {} };
  const outbox = { wake() {} };
  server = serveInMemory({
    services: [
      bind(
        AuthService,
        createAuthService({
          db,
          outbox,
          keys: () => ring,
          keyManager,
          policy: {
            accessTokenTtlSeconds: 900,
            refreshIdleSeconds: 86_400,
            refreshAbsoluteSeconds: 30 * 86_400,
            maxFailuresPerAccount: 3,
            maxFailuresPerIp: 1_000,
            failureWindowSeconds,
          },
          trustedProxies: { has: () => false },
          recovery: { maxRequestsPerEmail: 3, maxRequestsPerIp: 1_000, windowSeconds: 3600 },
          publicUrl: "http://storefront.test",
          mailer: { async send() {} },
          log: createLogger("auth-test", "silent"),
        }),
      ),
      bind(UserDirectoryService, createUserDirectoryService({ db, outbox })),
      bind(ServiceIdentityService, createServiceIdentityService({ keyManager, serviceSecret, tokenTtlSeconds: 900 })),
    ],
    rules: authAccessRules,
    // Auth verifies with its own keys, as its main.ts wires it.
    verifier: createTokenVerifier({ loadJwks: async () => ring.jwks() }),
  });
  const signer: TokenSigner = { sign: async (subject) => (await issueAccessToken(ring.signing, subject, 900)).token };
  callers = await oneOfEach(signer);
  adminService = await signedIn(signer, "service", "service:admin");
  auth = server.client(AuthService);
  directory = server.client(UserDirectoryService);
});

afterAll(async () => {
  await db?.destroy();
});

const newEmail = () => `someone-${randomBytes(5).toString("hex")}@example.test`;

/** A customer registered through the service, with their tokens. */
async function registered(password = "password-123") {
  const email = newEmail();
  const { user, tokens } = await auth.register({ email, password, displayName: "Someone" });
  return { email, password, user: user!, tokens: tokens!, options: bearer(tokens!.accessToken) };
}

describe("who may call auth", () => {
  const matrix = [
    ...accessMatrix(AuthService, {
      register: "public",
      login: "public",
      refreshToken: "public",
      logout: "public",
      getJwks: "public",
      getMe: "user",
      requestPasswordReset: "public",
      resetPassword: "public",
      requestEmailVerification: "user",
      verifyEmail: "public",
      updateMe: "user",
      changePassword: "user",
    }),
    ...accessMatrix(UserDirectoryService, {
      listUsers: "service",
      getUser: "service",
      setUserRole: "service",
      setUserActive: "service",
      eraseUser: "service",
    }),
    ...accessMatrix(ServiceIdentityService, { issueServiceToken: "public" }),
  ];
  // The service identity is guarded by the shared secret in the request, not by a token.
  const requests: Record<string, object> = { IssueServiceToken: { serviceName: "cart", secret: serviceSecret } };
  it.each(matrix)("%s", async (_story, method, caller, expected) => {
    expect(await accessOutcome(server.transport, method, callers[caller], requests[method.name])).toBe(expected);
  });
});

describe("signing up and in", () => {
  it("when someone registers, then their access token signs them in to GetMe", async () => {
    const { user, options } = await registered();
    expect((await auth.getMe({}, options)).user).toMatchObject({ id: user.id, role: Role.CUSTOMER });
  });

  it("when someone registers as ADMIN, then Register answers permission_denied", async () => {
    const error = await failureOf(
      auth.register({ email: newEmail(), password: "password-123", displayName: "Mallory", role: Role.ADMIN }),
    );
    expect(error.code).toBe(Code.PermissionDenied);
  });

  it("when the e-mail is registered already, in any case and spacing, then Register answers already_exists", async () => {
    const { email } = await registered();
    const again = auth.register({ email: ` ${email.toUpperCase()} `, password: "password-456", displayName: "Twin" });
    expect((await failureOf(again)).code).toBe(Code.AlreadyExists);
  });

  it("when the password is wrong or the e-mail unknown, then Login answers unauthenticated with one message for both", async () => {
    const { email } = await registered();
    const wrongPassword = await failureOf(auth.login({ email, password: "not-the-password" }));
    const unknownEmail = await failureOf(auth.login({ email: newEmail(), password: "password-123" }));
    expect([wrongPassword.code, unknownEmail.code]).toEqual([Code.Unauthenticated, Code.Unauthenticated]);
    expect(wrongPassword.rawMessage).toBe(unknownEmail.rawMessage);
  });

  it("when an account has failed to sign in too often, then Login answers resource_exhausted with the wait, even with the right password", async () => {
    const { email, password } = await registered();
    for (let i = 0; i < 3; i++) await failureOf(auth.login({ email, password: "not-the-password" }));
    const error = await failureOf(auth.login({ email, password }));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(BigInt(failureWindowSeconds));
  });
});

describe("sessions", () => {
  it("when a refresh token was already rotated, then RefreshToken answers unauthenticated", async () => {
    const { tokens } = await registered();
    await auth.refreshToken({ refreshToken: tokens.refreshToken });
    expect((await failureOf(auth.refreshToken({ refreshToken: tokens.refreshToken }))).code).toBe(Code.Unauthenticated);
  });

  it("when a refresh token is unknown, then RefreshToken answers unauthenticated and Logout still succeeds", async () => {
    const unknown = randomBytes(32).toString("base64url");
    expect((await failureOf(auth.refreshToken({ refreshToken: unknown }))).code).toBe(Code.Unauthenticated);
    await auth.logout({ refreshToken: unknown });
  });

  it("when the current password is wrong, then ChangePassword answers unauthenticated", async () => {
    const { options } = await registered();
    const change = auth.changePassword({ currentPassword: "not-the-password", newPassword: "password-456" }, options);
    expect((await failureOf(change)).code).toBe(Code.Unauthenticated);
  });

  it("when UpdateMe's mask names the role or the e-mail, then invalid_argument and nothing changes", async () => {
    const { user, options } = await registered();
    for (const path of ["role", "email"]) {
      const update = auth.updateMe(
        { user: { role: Role.ADMIN, email: newEmail() }, updateMask: { paths: [path] } },
        options,
      );
      expect((await failureOf(update)).code).toBe(Code.InvalidArgument);
    }
    expect((await auth.getMe({}, options)).user).toMatchObject({ role: Role.CUSTOMER, email: user.email });
  });

  it("when a valid token names a user who does not exist, then GetMe answers not_found", async () => {
    expect((await failureOf(auth.getMe({}, callers.customer))).code).toBe(Code.NotFound);
  });
});

describe("the user directory and service identities", () => {
  it("when a user does not exist, then GetUser and SetUserRole answer not_found", async () => {
    const id = uuidv7();
    expect((await failureOf(directory.getUser({ id }, adminService.options))).code).toBe(Code.NotFound);
    const promote = directory.setUserRole({ id, role: Role.SELLER }, adminService.options);
    expect((await failureOf(promote)).code).toBe(Code.NotFound);
  });

  it("when a page token was not handed out by ListUsers, then it answers invalid_argument", async () => {
    const list = directory.listUsers({ pageToken: "bm90LWEtdG9rZW4" }, adminService.options);
    expect((await failureOf(list)).code).toBe(Code.InvalidArgument);
  });

  it("when a user is deactivated, then their refresh token is refused and Login answers unauthenticated", async () => {
    const { user, email, password, tokens } = await registered();
    await directory.setUserActive({ id: user.id, active: false }, adminService.options);
    expect((await failureOf(auth.refreshToken({ refreshToken: tokens.refreshToken }))).code).toBe(Code.Unauthenticated);
    expect((await failureOf(auth.login({ email, password }))).code).toBe(Code.Unauthenticated);
  });

  it("when the service secret is wrong, then IssueServiceToken answers unauthenticated", async () => {
    const issue = server
      .client(ServiceIdentityService)
      .issueServiceToken({ serviceName: "cart", secret: "x".repeat(40) });
    expect((await failureOf(issue)).code).toBe(Code.Unauthenticated);
  });

  it("when a service token is issued, then it reaches the directory, which refuses users' tokens", async () => {
    const { accessToken } = await server
      .client(ServiceIdentityService)
      .issueServiceToken({ serviceName: "admin", secret: serviceSecret });
    const { user } = await registered();
    expect((await directory.getUser({ id: user.id }, bearer(accessToken))).user?.id).toBe(user.id);
    expect((await failureOf(directory.getUser({ id: user.id }, callers.admin))).code).toBe(Code.PermissionDenied);
  });
});

describe("erasing a user", () => {
  /** The user's events in the outbox, decoded, oldest first. */
  async function outboxEventsAbout(userId: string) {
    const rows = await db.selectFrom("outbox").select("payload").orderBy("id").execute();
    return rows.map((row) => fromBinary(EventSchema, row.payload)).filter((event) => event.subjectId === userId);
  }

  it("when a user is erased, then e-mail, name, phone and password are gone, every session ends, and UserActiveChanged and UserErased go out", async () => {
    const { user, email, password, tokens, options } = await registered();
    await auth.updateMe({ user: { phone: "+49 30 1234567" }, updateMask: { paths: ["phone"] } }, options);
    await failureOf(auth.login({ email, password: "wrong-password" }));
    await auth.requestPasswordReset({ email });
    // The reset link is made after the answer; erase only once it exists.
    await eventually(
      () => db.selectFrom("account_tokens").select("id").where("user_id", "=", user.id).execute(),
      (rows) => rows.length === 1,
    );
    // The relay published the sign-up; the row it keeps for a day holds the e-mail.
    await db.updateTable("outbox").set({ publish_time: new Date() }).where("publish_time", "is", null).execute();
    const actorId = uuidv7();

    const { user: erased, changed } = await directory.eraseUser({ id: user.id, actorId }, adminService.options);

    expect(changed).toBe(true);
    expect(erased).toMatchObject({
      id: user.id,
      email: `erased+${user.id}@invalid`,
      displayName: "",
      phone: "",
      active: false,
    });
    const row = await db.selectFrom("users").selectAll().where("id", "=", user.id).executeTakeFirstOrThrow();
    expect([row.email, row.display_name, row.phone]).toEqual([`erased+${user.id}@invalid`, "", ""]);
    expect(row.password_hash).not.toBe("");
    expect(await db.selectFrom("login_failures").selectAll().where("email", "=", email).execute()).toEqual([]);
    expect(await db.selectFrom("password_reset_requests").selectAll().where("email", "=", email).execute()).toEqual([]);
    expect(await db.selectFrom("account_tokens").selectAll().where("user_id", "=", user.id).execute()).toEqual([]);
    const outbox = await db.selectFrom("outbox").select("payload").execute();
    expect(outbox.filter((r) => Buffer.from(r.payload).includes(email))).toEqual([]);
    expect((await failureOf(auth.refreshToken({ refreshToken: tokens.refreshToken }))).code).toBe(Code.Unauthenticated);
    expect((await failureOf(auth.login({ email, password }))).code).toBe(Code.Unauthenticated);
    const login = auth.login({ email: erased!.email, password });
    expect((await failureOf(login)).code).toBe(Code.Unauthenticated);
    const events = (await outboxEventsAbout(user.id)).filter(
      (e) => e.payload.case !== "userRegistered" && e.payload.case !== "passwordResetRequested",
    );
    expect(events.map((e) => [e.payload.case, e.actorId])).toEqual([
      ["userActiveChanged", actorId],
      ["userErased", actorId],
    ]);
  });

  it("when an erased user is erased again, then it answers changed = false and emits nothing", async () => {
    const { user } = await registered();
    await directory.eraseUser({ id: user.id, actorId: uuidv7() }, adminService.options);
    const before = await outboxEventsAbout(user.id);
    const again = await directory.eraseUser({ id: user.id, actorId: uuidv7() }, adminService.options);
    expect(again.changed).toBe(false);
    expect(again.user?.email).toBe(`erased+${user.id}@invalid`);
    expect(await outboxEventsAbout(user.id)).toEqual(before);
  });

  it("when the user does not exist, then EraseUser answers not_found", async () => {
    const erase = directory.eraseUser({ id: uuidv7(), actorId: uuidv7() }, adminService.options);
    expect((await failureOf(erase)).code).toBe(Code.NotFound);
  });
});
