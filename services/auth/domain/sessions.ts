// Signing up, signing in and out, refreshing and changing passwords: the auth use cases.
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { Role as ProtoRole } from "../../../gen/bazaar/common/v1/common_pb.ts";
import { appendEvent } from "../../kit/events.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { OutboxNotifier } from "../../kit/lifecycle.ts";
import type { AuthDatabase } from "../db/database.ts";
import {
  countRecentFailures,
  findRefreshTokenForUpdate,
  insertRefreshToken,
  markRefreshTokenUsed,
  recordLoginFailure,
  revokeFamily,
} from "../db/session.repository.ts";
import { findUserByEmail, findUserById, insertUser, touchLastLogin } from "../db/user.repository.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { replacePassword } from "./password-change.ts";
import type { KeyRing } from "./signing-keys.ts";
import { hashRefreshToken, issueAccessToken, newRefreshToken } from "./tokens.ts";
import {
  EmailTakenError,
  InvalidCredentialsError,
  InvalidRefreshTokenError,
  normalizeEmail,
  TooManyAttemptsError,
  type User,
  type UserRole,
} from "./user.ts";

export interface SessionPolicy {
  accessTokenTtlSeconds: number;
  refreshIdleSeconds: number;
  refreshAbsoluteSeconds: number;
  /** Failed sign-ins allowed per account and per client IP within the window. */
  maxFailuresPerAccount: number;
  maxFailuresPerIp: number;
  failureWindowSeconds: number;
}

export interface SessionDeps {
  db: Kysely<AuthDatabase>;
  keys: () => KeyRing;
  outbox: OutboxNotifier;
  policy: SessionPolicy;
}

export interface Tokens {
  accessToken: string;
  accessExpireTime: Date;
  refreshToken: string;
  refreshExpireTime: Date;
}

/**
 * A refresh token presented again this soon after its rotation is a client racing itself (two
 * tabs refreshing at once), not a replay by a thief: it is refused without revoking the family,
 * so exactly one of the racing calls gets a new pair and keeps it.
 */
const concurrentRefreshGraceMs = 2_000;

export const protoRoles: Record<UserRole, ProtoRole> = {
  customer: ProtoRole.CUSTOMER,
  seller: ProtoRole.SELLER,
  admin: ProtoRole.ADMIN,
};

export async function register(
  deps: SessionDeps,
  input: { email: string; password: string; displayName: string; role: UserRole },
): Promise<{ user: User; tokens: Tokens }> {
  const email = normalizeEmail(input.email);
  const passwordHash = await hashPassword(input.password);
  const id = uuidv7();
  await deps.db.transaction().execute(async (trx) => {
    if (!(await insertUser(trx, { id, email, passwordHash, displayName: input.displayName, role: input.role }))) {
      throw new EmailTakenError(`${email} is already registered`);
    }
    await appendEvent(trx, {
      source: "auth",
      actorId: id,
      subjectId: id,
      payload: {
        case: "userRegistered",
        value: { userId: id, email, role: protoRoles[input.role], displayName: input.displayName },
      },
    });
  });
  deps.outbox.wake();
  const user = (await findUserById(deps.db, id))!;
  return { user, tokens: await startSession(deps, user) };
}

// Verifying against this when the e-mail is unknown makes both failures take the same time.
let dummyHash: Promise<string> | undefined;

export async function login(
  deps: SessionDeps,
  input: { email: string; password: string; clientIp: string },
): Promise<{ user: User; tokens: Tokens }> {
  const email = normalizeEmail(input.email);
  await ensureNotThrottled(deps, email, input.clientIp);
  const user = await findUserByEmail(deps.db, email);
  const passwordMatches = user
    ? await verifyPassword(user.passwordHash, input.password)
    : await verifyPassword(await (dummyHash ??= hashPassword(randomBytes(16).toString("hex"))), input.password);
  if (!user || !passwordMatches || !user.active) {
    await recordLoginFailure(deps.db, email, input.clientIp);
    throw new InvalidCredentialsError();
  }
  await touchLastLogin(deps.db, user.id);
  return { user, tokens: await startSession(deps, user) };
}

async function ensureNotThrottled(deps: SessionDeps, email: string, clientIp: string): Promise<void> {
  const { policy } = deps;
  const since = new Date(Date.now() - policy.failureWindowSeconds * 1000);
  const [byAccount, byIp] = await Promise.all([
    countRecentFailures(deps.db, since, { email }),
    countRecentFailures(deps.db, since, { clientIp }),
  ]);
  if (byAccount >= policy.maxFailuresPerAccount || byIp >= policy.maxFailuresPerIp) {
    throw new TooManyAttemptsError(policy.failureWindowSeconds);
  }
}

export async function refresh(deps: SessionDeps, refreshToken: string): Promise<Tokens> {
  const hash = hashRefreshToken(refreshToken);
  const outcome = await deps.db.transaction().execute(async (trx) => {
    const row = await findRefreshTokenForUpdate(trx, hash);
    if (!row || row.revoke_time) return { ok: false as const };
    const now = Date.now();
    if (row.use_time) {
      // RFC 9700 §4.14.2: a rotated token presented again means it leaked; end the family.
      if (now - row.use_time.getTime() > concurrentRefreshGraceMs) await revokeFamily(trx, row.family_id);
      return { ok: false as const };
    }
    if (row.expire_time.getTime() <= now || row.family_expire_time.getTime() <= now) return { ok: false as const };
    const user = await findUserById(trx, row.user_id);
    if (!user?.active) {
      await revokeFamily(trx, row.family_id);
      return { ok: false as const };
    }
    await markRefreshTokenUsed(trx, hash);
    const next = await createRefreshToken(trx, deps.policy, user.id, row.family_id, row.family_expire_time);
    return { ok: true as const, user, next };
  });
  if (!outcome.ok) throw new InvalidRefreshTokenError();
  const access = await issueAccessToken(deps.keys().signing, outcome.user, deps.policy.accessTokenTtlSeconds);
  return { accessToken: access.token, accessExpireTime: access.expireTime, ...outcome.next };
}

/** Ends the session of a refresh token. Unknown tokens are ignored: logout always succeeds. */
export async function logout(deps: SessionDeps, refreshToken: string): Promise<void> {
  const hash = hashRefreshToken(refreshToken);
  await deps.db.transaction().execute(async (trx) => {
    const row = await findRefreshTokenForUpdate(trx, hash);
    if (row) await revokeFamily(trx, row.family_id);
  });
}

/**
 * Changes the password and ends every session of the user; returns a fresh one. As after a reset,
 * PasswordChanged puts the access tokens issued until now on every service's deny list (the new
 * session's token, issued after it, passes).
 */
export async function changePassword(
  deps: SessionDeps,
  input: { userId: string; currentPassword: string; newPassword: string },
): Promise<Tokens> {
  const user = await findUserById(deps.db, input.userId);
  if (!user?.active || !(await verifyPassword(user.passwordHash, input.currentPassword))) {
    throw new InvalidCredentialsError();
  }
  const passwordHash = await hashPassword(input.newPassword);
  await deps.db.transaction().execute(async (trx) => {
    await replacePassword(trx, user.id, passwordHash);
  });
  deps.outbox.wake();
  return startSession(deps, user);
}

async function startSession(deps: SessionDeps, user: User): Promise<Tokens> {
  const familyExpireTime = new Date(Date.now() + deps.policy.refreshAbsoluteSeconds * 1000);
  const refreshToken = await createRefreshToken(deps.db, deps.policy, user.id, uuidv7(), familyExpireTime);
  const access = await issueAccessToken(deps.keys().signing, user, deps.policy.accessTokenTtlSeconds);
  return { accessToken: access.token, accessExpireTime: access.expireTime, ...refreshToken };
}

async function createRefreshToken(
  db: Parameters<typeof insertRefreshToken>[0],
  policy: SessionPolicy,
  userId: string,
  familyId: string,
  familyExpireTime: Date,
): Promise<{ refreshToken: string; refreshExpireTime: Date }> {
  const { token, hash } = newRefreshToken();
  const idleExpiry = Date.now() + policy.refreshIdleSeconds * 1000;
  const expireTime = new Date(Math.min(idleExpiry, familyExpireTime.getTime()));
  await insertRefreshToken(db, { hash, familyId, userId, expireTime, familyExpireTime });
  return { refreshToken: token, refreshExpireTime: expireTime };
}
