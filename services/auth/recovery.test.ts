// Account recovery through the auth handlers in memory against a database of their own: the
// reset request answers alike for known and unknown addresses, is rate limited, mails a
// single-use token that expires, and the reset ends every session. The mail goes to a fake
// AccountMailService that records what it was asked and can fail like an unavailable one.
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, type Client } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { createTokenVerifier, DenyList } from "../kit/auth.ts";
import { errorInfoOf } from "../kit/error-info.ts";
import { applyIdentityEvent } from "../kit/identity.ts";
import { createLogger } from "../kit/log.ts";
import { bind } from "../kit/serve.ts";
import { bearer, failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { eventually } from "../kit/testing/eventually.ts";
import { serveInMemory, type InMemoryServer } from "../kit/testing/in-memory.ts";
import { authAccessRules } from "./access-rules.ts";
import { createAuthService } from "./auth-service.ts";
import type { AuthDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import type { KeyManager } from "./domain/key-manager.ts";
import type { AccountMail } from "./domain/recovery.ts";
import { generateSigningKey, keyPublishDelayMs, KeyRing } from "./domain/signing-keys.ts";

const maxPerEmail = 3;
let db: Kysely<AuthDatabase>;
let server: InMemoryServer;
let auth: Client<typeof AuthService>;
const denyList = new DenyList();
const mails: AccountMail[] = [];
/** How many of the next sends fail as an unreachable notification service would. */
let failNextSends = 0;
const logLines: string[] = [];

beforeAll(async () => {
  db = await migratedTestDatabase<AuthDatabase>("auth_recovery", migrations);
  const ring = await KeyRing.from([await generateSigningKey(new Date(Date.now() - 2 * keyPublishDelayMs))]);
  const keyManager: KeyManager = { current: () => ring, rotate: async () => ring, stop() {} };
  const log = createLogger(
    "auth-recovery-test",
    "debug",
    new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    }),
  );
  server = serveInMemory({
    services: [
      bind(
        AuthService,
        createAuthService({
          db,
          outbox: { wake() {} },
          keys: () => ring,
          keyManager,
          policy: {
            accessTokenTtlSeconds: 900,
            refreshIdleSeconds: 86_400,
            refreshAbsoluteSeconds: 30 * 86_400,
            maxFailuresPerAccount: 10,
            maxFailuresPerIp: 1_000,
            failureWindowSeconds: 900,
          },
          trustedProxies: { has: () => false },
          recovery: { maxRequestsPerEmail: maxPerEmail, maxRequestsPerIp: 1_000, windowSeconds: 3600 },
          publicUrl: "http://storefront.test/",
          mailer: {
            async send(mail) {
              if (failNextSends > 0) {
                failNextSends--;
                throw new Error("connect ECONNREFUSED 127.0.0.1:50057");
              }
              mails.push(mail);
            },
          },
          mailRetryDelaysMs: [10, 10, 10],
          log,
        }),
      ),
    ],
    rules: authAccessRules,
    verifier: createTokenVerifier({ loadJwks: async () => ring.jwks() }),
    denyList,
  });
  auth = server.client(AuthService);
});

afterAll(async () => {
  await db?.destroy();
});

const newEmail = () => `someone-${randomBytes(5).toString("hex")}@example.test`;

async function registered(password = "password-123") {
  const email = newEmail();
  const { user, tokens } = await auth.register({ email, password, displayName: "Someone" });
  return { email, password, user: user!, tokens: tokens! };
}

async function mailFor(email: string, kind: AccountMail["kind"] = "password-reset"): Promise<AccountMail> {
  const found = await eventually(
    async () => mails.find((mail) => mail.email === email && mail.kind === kind),
    (mail) => mail !== undefined,
  );
  expect(found, `a reset mail for ${email}`).toBeDefined();
  return found!;
}

const tokenOf = (mail: AccountMail) => new URL(mail.link.replace(/\/#[a-z-]+\?/, "/?")).searchParams.get("token")!;

/** The claims of an access token, unverified: only to read what auth put in. */
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString());

async function outboxEventsAbout(userId: string) {
  const rows = await db.selectFrom("outbox").select("payload").orderBy("id").execute();
  return rows.map((row) => fromBinary(EventSchema, row.payload)).filter((event) => event.subjectId === userId);
}

describe("asking for a reset link", () => {
  it("when the address is known or unknown, then RequestPasswordReset answers the same, and only the known one gets a mail", async () => {
    const { email, user } = await registered();
    const unknown = newEmail();

    const known = await auth.requestPasswordReset({ email: ` ${email.toUpperCase()} ` });
    const stranger = await auth.requestPasswordReset({ email: unknown });

    expect(known).toEqual(stranger);
    const mail = await mailFor(email);
    expect(mail).toMatchObject({ userId: user.id, kind: "password-reset", displayName: "Someone" });
    expect(mail.link).toMatch(/^http:\/\/storefront\.test\/#reset-password\?token=[A-Za-z0-9_-]{43}$/);
    expect(mail.expireTime.getTime() - Date.now()).toBeGreaterThan(29 * 60_000);
    expect(mails.some((m) => m.email === unknown)).toBe(false);
    const stored = await db.selectFrom("account_tokens").selectAll().where("user_id", "=", user.id).execute();
    expect(stored.map((row) => [row.id, row.token_hash.length])).toEqual([[mail.idempotencyKey, 64]]);
    expect(stored[0]!.token_hash).not.toContain(tokenOf(mail));
    const events = (await outboxEventsAbout(user.id)).map((e) => e.payload.case);
    expect(events).toContain("passwordResetRequested");
  });

  it("when an address asked too often, then RequestPasswordReset answers resource_exhausted for it, known or not", async () => {
    for (const email of [(await registered()).email, newEmail()]) {
      for (let i = 0; i < maxPerEmail; i++) await auth.requestPasswordReset({ email });
      const error = await failureOf(auth.requestPasswordReset({ email }));
      expect(error.code).toBe(Code.ResourceExhausted);
      expect(errorInfoOf(error)).toMatchObject({ reason: "RATE_LIMITED", metadata: { scope: "account_mail" } });
    }
  });

  it("when the notification service is unavailable at first, then the mail is retried and no log line holds the token", async () => {
    const { email } = await registered();
    failNextSends = 2;
    await auth.requestPasswordReset({ email });
    const token = tokenOf(await mailFor(email));
    expect(logLines.filter((line) => line.includes("retrying")).length).toBe(2);
    expect(logLines.filter((line) => line.includes(token))).toEqual([]);
  });
});

describe("resetting the password", () => {
  it("when the mailed token is used, then the password changes, every session ends, old access tokens are refused, and the token is spent", async () => {
    const { email, password, user, tokens } = await registered();
    await auth.requestPasswordReset({ email });
    const token = tokenOf(await mailFor(email));
    expect((await auth.getMe({}, bearer(tokens.accessToken))).user?.id).toBe(user.id);

    await auth.resetPassword({ token, newPassword: "brand-new-password" });

    expect((await failureOf(auth.login({ email, password }))).code).toBe(Code.Unauthenticated);
    const refresh = await failureOf(auth.refreshToken({ refreshToken: tokens.refreshToken }));
    expect(errorInfoOf(refresh)?.reason).toBe("REFRESH_TOKEN_INVALID");
    // What every service's deny-list feed does with the event auth emitted.
    const events = await outboxEventsAbout(user.id);
    expect(events.map((e) => e.payload.case)).toContain("passwordChanged");
    for (const event of events) applyIdentityEvent(denyList, event);
    expect((await failureOf(auth.getMe({}, bearer(tokens.accessToken)))).code).toBe(Code.Unauthenticated);
    const again = await failureOf(auth.resetPassword({ token, newPassword: "another-password" }));
    expect(again.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(again)?.reason).toBe("RESET_TOKEN_INVALID");
    expect(again.message).not.toContain(token);
    // A token issued right after the reset, even in the same second, passes the deny list.
    const fresh = await auth.login({ email, password: "brand-new-password" });
    expect((await auth.getMe({}, bearer(fresh.tokens!.accessToken))).user?.id).toBe(user.id);
    const outbox = await db.selectFrom("outbox").select("payload").execute();
    expect(outbox.filter((row) => Buffer.from(row.payload).includes(token))).toEqual([]);
  });

  it("when the token expired or is unknown, then ResetPassword answers as for a used one and nothing changes", async () => {
    const { email, password, user } = await registered();
    await auth.requestPasswordReset({ email });
    const token = tokenOf(await mailFor(email));
    await db
      .updateTable("account_tokens")
      .set({ expire_time: new Date(Date.now() - 1000) })
      .where("user_id", "=", user.id)
      .execute();

    const expired = await failureOf(auth.resetPassword({ token, newPassword: "brand-new-password" }));
    const unknown = await failureOf(
      auth.resetPassword({ token: randomBytes(32).toString("base64url"), newPassword: "brand-new-password" }),
    );

    for (const error of [expired, unknown]) {
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(errorInfoOf(error)?.reason).toBe("RESET_TOKEN_INVALID");
    }
    expect(expired.message).toBe(unknown.message);
    expect((await auth.login({ email, password })).user?.id).toBe(user.id);
  });
});

describe("changing the password", () => {
  it("when a signed-in user changes it, then PasswordChanged refuses the old access token and the new session's token passes", async () => {
    const { email, user, tokens } = await registered();
    const changed = await auth.changePassword(
      { currentPassword: "password-123", newPassword: "changed-password-789" },
      bearer(tokens.accessToken),
    );
    const events = await outboxEventsAbout(user.id);
    expect(events.map((e) => e.payload.case)).toContain("passwordChanged");
    for (const event of events) applyIdentityEvent(denyList, event);
    expect((await failureOf(auth.getMe({}, bearer(tokens.accessToken)))).code).toBe(Code.Unauthenticated);
    expect((await auth.getMe({}, bearer(changed.tokens!.accessToken))).user?.email).toBe(email);
    const refresh = await failureOf(auth.refreshToken({ refreshToken: tokens.refreshToken }));
    expect(errorInfoOf(refresh)?.reason).toBe("REFRESH_TOKEN_INVALID");
  });
});

describe("verifying the e-mail", () => {
  it("when the signed-in user confirms the mailed link, then User and new access tokens say email_verified, once", async () => {
    const { email, password, user, tokens } = await registered();
    expect(user.emailVerified).toBe(false);
    expect(claimsOf(tokens.accessToken).email_verified).toBe(false);

    await auth.requestEmailVerification({}, bearer(tokens.accessToken));
    const mail = await mailFor(email, "email-verification");
    expect(mail.link).toMatch(/^http:\/\/storefront\.test\/#verify-email\?token=[A-Za-z0-9_-]{43}$/);
    const token = tokenOf(mail);
    const { user: verified } = await auth.verifyEmail({ token });

    expect(verified).toMatchObject({ id: user.id, emailVerified: true });
    expect((await auth.getMe({}, bearer(tokens.accessToken))).user?.emailVerified).toBe(true);
    const fresh = await auth.login({ email, password });
    expect(claimsOf(fresh.tokens!.accessToken).email_verified).toBe(true);
    const again = await failureOf(auth.verifyEmail({ token }));
    expect(again.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(again)?.reason).toBe("VERIFICATION_TOKEN_INVALID");
    const events = (await outboxEventsAbout(user.id)).map((e) => e.payload.case);
    expect(events.filter((c) => c === "emailVerified")).toHaveLength(1);
    // A reset token does not verify, nor the other way round.
    await auth.requestPasswordReset({ email });
    const resetToken = tokenOf(await mailFor(email));
    expect(errorInfoOf(await failureOf(auth.verifyEmail({ token: resetToken })))?.reason).toBe(
      "VERIFICATION_TOKEN_INVALID",
    );
  });

  it("when nobody is signed in, then RequestEmailVerification answers unauthenticated", async () => {
    expect((await failureOf(auth.requestEmailVerification({}))).code).toBe(Code.Unauthenticated);
  });
});
