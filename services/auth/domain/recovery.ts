// Account recovery: a password-reset link by e-mail, and the reset itself.
import { createHash, randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { appendEvent } from "../../kit/events.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { OutboxNotifier } from "../../kit/lifecycle.ts";
import type { Logger } from "../../kit/log.ts";
import type { AuthDatabase } from "../db/database.ts";
import {
  consumeAccountToken,
  countResetRequests,
  expireUserAccountTokens,
  insertAccountToken,
  recordResetRequest,
} from "../db/recovery.repository.ts";
import { findUserByEmail, findUserById, markEmailVerified } from "../db/user.repository.ts";
import { hashPassword } from "./password.ts";
import { replacePassword } from "./password-change.ts";
import { normalizeEmail, TooManyAttemptsError, type User, UserNotFoundError } from "./user.ts";

export const resetTokenTtlMs = 30 * 60 * 1000;
export const verificationTokenTtlMs = 24 * 60 * 60 * 1000;

export interface RecoveryPolicy {
  /** Reset requests allowed per address and per client within the window. */
  maxRequestsPerEmail: number;
  maxRequestsPerIp: number;
  windowSeconds: number;
}

/** One account mail; `link` holds the secret token and must never be logged. */
export interface AccountMail {
  idempotencyKey: string;
  userId: string;
  email: string;
  displayName: string;
  kind: "password-reset" | "email-verification";
  link: string;
  expireTime: Date;
}

/** The notification service's AccountMailService.SendAccountMail, behind a seam for tests. */
export interface AccountMailer {
  send(mail: AccountMail): Promise<void>;
}

export interface RecoveryDeps {
  db: Kysely<AuthDatabase>;
  outbox: OutboxNotifier;
  mailer: AccountMailer;
  publicUrl: string;
  recovery: RecoveryPolicy;
  log: Logger;
  /** Delays between mail attempts when the notification service is unavailable. */
  mailRetryDelaysMs?: number[];
}

export class InvalidResetTokenError extends Error {
  override name = "InvalidResetTokenError";
  constructor() {
    // One message for unknown, expired and used tokens alike; never the token itself.
    super("the reset link is invalid, expired or already used");
  }
}

export class InvalidVerificationTokenError extends Error {
  override name = "InvalidVerificationTokenError";
  constructor() {
    super("the verification link is invalid, expired or already used");
  }
}

export function hashAccountToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * Checks the limits and records the request, then returns the rest of the work (lookup, token,
 * mail) as a promise the caller does NOT await before answering: known and unknown addresses
 * get the same answer in the same time because neither waits for the lookup.
 */
export async function requestPasswordReset(
  deps: RecoveryDeps,
  input: { email: string; clientIp: string },
): Promise<{ background: Promise<void> }> {
  const email = normalizeEmail(input.email);
  await ensureMailAllowed(deps, email, input.clientIp);
  const background = (async () => {
    const user = await findUserByEmail(deps.db, email);
    if (user?.active) await sendAccountLink(deps, user, "password_reset");
  })().catch((error: unknown) => {
    deps.log.error({ err: error }, "password-reset request failed after answering");
  });
  return { background };
}

/** Per-address and per-client limits on account mails, shared by reset and verification. */
async function ensureMailAllowed(deps: RecoveryDeps, email: string, clientIp: string): Promise<void> {
  const { recovery } = deps;
  const since = new Date(Date.now() - recovery.windowSeconds * 1000);
  const [byEmail, byIp] = await Promise.all([
    countResetRequests(deps.db, since, { email }),
    countResetRequests(deps.db, since, { clientIp }),
  ]);
  if (byEmail >= recovery.maxRequestsPerEmail || byIp >= recovery.maxRequestsPerIp) {
    throw new TooManyAttemptsError(
      recovery.windowSeconds,
      "too many account mails asked; try again later",
      "account_mail",
    );
  }
  await recordResetRequest(deps.db, email, clientIp);
}

const linkKinds = {
  password_reset: { kind: "password-reset", page: "reset-password", ttlMs: resetTokenTtlMs },
  email_verification: { kind: "email-verification", page: "verify-email", ttlMs: verificationTokenTtlMs },
} as const;

/** Stores a new token's hash (with its event) and hands the link to the notification service. */
async function sendAccountLink(
  deps: RecoveryDeps,
  user: User,
  purpose: "password_reset" | "email_verification",
): Promise<void> {
  const { kind, page, ttlMs } = linkKinds[purpose];
  const token = randomBytes(32).toString("base64url");
  const id = uuidv7();
  const expireTime = new Date(Date.now() + ttlMs);
  await deps.db.transaction().execute(async (trx) => {
    await insertAccountToken(trx, { id, hash: hashAccountToken(token), userId: user.id, purpose, expireTime });
    if (purpose === "password_reset")
      await appendEvent(trx, {
        source: "auth",
        actorId: user.id,
        subjectId: user.id,
        payload: { case: "passwordResetRequested", value: { userId: user.id } },
      });
  });
  deps.outbox.wake();
  await sendWithRetries(deps, {
    idempotencyKey: id,
    userId: user.id,
    email: user.email,
    displayName: user.displayName,
    kind,
    link: `${deps.publicUrl.replace(/\/+$/, "")}/#${page}?token=${token}`,
    expireTime,
  });
}

/** The notification service may be restarting: a few tries, logging only the token record's id. */
async function sendWithRetries(deps: RecoveryDeps, mail: AccountMail): Promise<void> {
  const delays = deps.mailRetryDelaysMs ?? [500, 2_000, 8_000];
  for (let attempt = 0; ; attempt++) {
    try {
      await deps.mailer.send(mail);
      return;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const context = { tokenId: mail.idempotencyKey, userId: mail.userId, attempt, error: message };
      if (attempt >= delays.length) {
        deps.log.error(context, "account mail could not be handed to the notification service");
        return;
      }
      deps.log.warn(context, "account mail not handed over yet; retrying");
      await new Promise((resolve) => setTimeout(resolve, delays[attempt]));
    }
  }
}

/**
 * Sets the new password with a reset token and ends every session: refresh tokens are revoked
 * here, and PasswordChanged puts the user's older access tokens on every service's deny list.
 */
export async function resetPassword(deps: RecoveryDeps, input: { token: string; newPassword: string }): Promise<void> {
  // Hashed before the transaction: argon2 takes tens of milliseconds, the row lock should not.
  const passwordHash = await hashPassword(input.newPassword);
  const userId = await deps.db.transaction().execute(async (trx) => {
    const id = await consumeAccountToken(trx, hashAccountToken(input.token), "password_reset", new Date());
    if (!id) return undefined;
    await expireUserAccountTokens(trx, id, "password_reset");
    await replacePassword(trx, id, passwordHash);
    return id;
  });
  if (!userId) throw new InvalidResetTokenError();
  deps.outbox.wake();
}

/**
 * Mails the signed-in user a verification link, in the background like reset links. An address
 * verified already gets nothing; the caller cannot tell, nor needs to (User.email_verified).
 */
export async function requestEmailVerification(
  deps: RecoveryDeps,
  input: { userId: string; clientIp: string },
): Promise<{ background: Promise<void> }> {
  const user = await findUserById(deps.db, input.userId);
  if (!user?.active) throw new UserNotFoundError(`user ${input.userId} not found`);
  await ensureMailAllowed(deps, user.email, input.clientIp);
  const background = user.emailVerified
    ? Promise.resolve()
    : sendAccountLink(deps, user, "email_verification").catch((error: unknown) => {
        deps.log.error({ err: error }, "verification mail failed after answering");
      });
  return { background };
}

/** Marks the e-mail verified with a verification token; emits EmailVerified. */
export async function verifyEmail(deps: RecoveryDeps, token: string): Promise<User> {
  const userId = await deps.db.transaction().execute(async (trx) => {
    const id = await consumeAccountToken(trx, hashAccountToken(token), "email_verification", new Date());
    if (!id) return undefined;
    await expireUserAccountTokens(trx, id, "email_verification");
    if (await markEmailVerified(trx, id))
      await appendEvent(trx, {
        source: "auth",
        actorId: id,
        subjectId: id,
        payload: { case: "emailVerified", value: { userId: id } },
      });
    return id;
  });
  if (!userId) throw new InvalidVerificationTokenError();
  deps.outbox.wake();
  return (await findUserById(deps.db, userId))!;
}
