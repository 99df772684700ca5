// Users as the auth service's domain sees them, and the rules about them.
import type { Role } from "../../kit/auth.ts";

export type UserRole = Exclude<Role, "service">;

export interface User {
  id: string;
  email: string;
  displayName: string;
  phone: string;
  role: UserRole;
  active: boolean;
  /** Confirmed with a mailed link (VerifyEmail). */
  emailVerified: boolean;
  createTime: Date;
  lastLoginTime: Date | null;
}

/** E-mails are compared and stored trimmed and lower-cased, so "A@x.io " and "a@x.io" are one. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * What an erased user's e-mail becomes: unique (the column is), never deliverable (.invalid is
 * reserved, RFC 2606), and recognisable, so erasing twice finds nothing left to do.
 */
export function erasedEmailOf(userId: string): string {
  return `erased+${userId}@invalid`;
}

/** Roles anyone may give themselves at sign-up; admins are made by admins. */
export const selfAssignableRoles: ReadonlySet<UserRole> = new Set(["customer", "seller"]);

/** Fields a user may change on themselves (UpdateMe); role, email and id are not among them. */
export const selfEditableFields = ["display_name", "phone"] as const;

export class EmailTakenError extends Error {
  override name = "EmailTakenError";
}

export class InvalidCredentialsError extends Error {
  override name = "InvalidCredentialsError";
  constructor() {
    // One message for unknown e-mail, wrong password and deactivated account alike.
    super("e-mail or password is wrong");
  }
}

export class UserNotFoundError extends Error {
  override name = "UserNotFoundError";
}

export class TooManyAttemptsError extends Error {
  override name = "TooManyAttemptsError";
  readonly retryAfterSeconds: number;
  readonly scope: "sign_in" | "account_mail";
  constructor(
    retryAfterSeconds: number,
    message = "too many failed sign-ins; try again later",
    scope: "sign_in" | "account_mail" = "sign_in",
  ) {
    super(message);
    this.scope = scope;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class InvalidRefreshTokenError extends Error {
  override name = "InvalidRefreshTokenError";
  constructor() {
    super("refresh token is invalid, expired or already used");
  }
}
