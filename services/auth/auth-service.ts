// AuthService and UserDirectoryService handlers: proto ↔ domain, domain errors → ConnectError.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService, UserDirectoryService, TokensSchema, UserSchema } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { Role as ProtoRole } from "../../gen/bazaar/common/v1/common_pb.ts";
import { callerOf } from "../kit/auth.ts";
import { clientAddressOf, type TrustedProxies } from "../kit/client-address.ts";
import { rateLimitedError, reasonedError } from "../kit/error-info.ts";
import { idKeysetPage } from "../kit/pages.ts";
import { findUserById, listUsers, updateProfile } from "./db/user.repository.ts";
import { changeActive, changeRole, eraseUser, type DirectoryDeps } from "./domain/directory.ts";
import type { KeyManager } from "./domain/key-manager.ts";
import {
  InvalidResetTokenError,
  InvalidVerificationTokenError,
  type RecoveryDeps,
  requestEmailVerification,
  requestPasswordReset,
  resetPassword,
  verifyEmail,
} from "./domain/recovery.ts";
import {
  changePassword,
  login,
  logout,
  protoRoles,
  refresh,
  register,
  type SessionDeps,
  type Tokens,
} from "./domain/sessions.ts";
import {
  EmailTakenError,
  InvalidCredentialsError,
  InvalidRefreshTokenError,
  selfAssignableRoles,
  TooManyAttemptsError,
  UserNotFoundError,
  type User,
  type UserRole,
} from "./domain/user.ts";

export interface AuthServiceDeps extends SessionDeps, RecoveryDeps {
  keyManager: KeyManager;
  trustedProxies: TrustedProxies;
}

const rolesFromProto: Partial<Record<ProtoRole, UserRole>> = {
  [ProtoRole.CUSTOMER]: "customer",
  [ProtoRole.SELLER]: "seller",
  [ProtoRole.ADMIN]: "admin",
};

export function createAuthService(deps: AuthServiceDeps): ServiceImpl<typeof AuthService> {
  return {
    async register(request) {
      const role = request.role === ProtoRole.UNSPECIFIED ? "customer" : rolesFromProto[request.role]!;
      if (!selfAssignableRoles.has(role))
        throw new ConnectError("only CUSTOMER or SELLER can be chosen at sign-up", Code.PermissionDenied);
      const { user, tokens } = await mapErrors(() =>
        register(deps, { email: request.email, password: request.password, displayName: request.displayName, role }),
      );
      return { user: userToProto(user), tokens: tokensToProto(tokens) };
    },

    async login(request, ctx) {
      const clientIp = clientAddressOf(ctx, deps.trustedProxies);
      const { user, tokens } = await mapErrors(() =>
        login(deps, { email: request.email, password: request.password, clientIp }),
      );
      return { user: userToProto(user), tokens: tokensToProto(tokens) };
    },

    async refreshToken(request) {
      return { tokens: tokensToProto(await mapErrors(() => refresh(deps, request.refreshToken))) };
    },

    async logout(request) {
      await logout(deps, request.refreshToken);
      return {};
    },

    async getMe(_, ctx) {
      return { user: userToProto(await userOrNotFound(deps, callerOf(ctx).id)) };
    },

    async updateMe(request, ctx) {
      const { id } = callerOf(ctx);
      // The contract admits only display_name and phone in the mask; role, email and id can
      // never be changed here, whatever else the request carries.
      const paths = new Set(request.updateMask!.paths);
      await updateProfile(deps.db, id, {
        displayName: paths.has("display_name") ? request.user!.displayName : undefined,
        phone: paths.has("phone") ? request.user!.phone : undefined,
      });
      return { user: userToProto(await userOrNotFound(deps, id)) };
    },

    async changePassword(request, ctx) {
      const tokens = await mapErrors(() =>
        changePassword(deps, {
          userId: callerOf(ctx).id,
          currentPassword: request.currentPassword,
          newPassword: request.newPassword,
        }),
      );
      return { tokens: tokensToProto(tokens) };
    },

    async requestPasswordReset(request, ctx) {
      const clientIp = clientAddressOf(ctx, deps.trustedProxies);
      // The lookup and the mail run after the answer (see requestPasswordReset).
      await mapErrors(() => requestPasswordReset(deps, { email: request.email, clientIp }));
      return {};
    },

    async resetPassword(request) {
      await mapErrors(() => resetPassword(deps, { token: request.token, newPassword: request.newPassword }));
      return {};
    },

    async requestEmailVerification(_, ctx) {
      const clientIp = clientAddressOf(ctx, deps.trustedProxies);
      await mapErrors(() => requestEmailVerification(deps, { userId: callerOf(ctx).id, clientIp }));
      return {};
    },

    async verifyEmail(request) {
      return { user: userToProto(await mapErrors(() => verifyEmail(deps, request.token))) };
    },

    getJwks() {
      return { jwksJson: JSON.stringify(deps.keyManager.current().jwks()) };
    },
  };
}

export function createUserDirectoryService(deps: DirectoryDeps): ServiceImpl<typeof UserDirectoryService> {
  return {
    async listUsers(request) {
      const { rows, nextPageToken } = await idKeysetPage(
        request,
        (keyset) =>
          listUsers(deps.db, {
            role: rolesFromProto[request.role],
            active: request.active,
            text: request.query || undefined,
            ...keyset,
          }),
        (user) => user.id,
      );
      return { users: rows.map(userToProto), nextPageToken };
    },

    async getUser(request) {
      return { user: userToProto(await userOrNotFound(deps, request.id)) };
    },

    async setUserRole(request, ctx) {
      const user = await mapErrors(() =>
        changeRole(deps, { userId: request.id, role: rolesFromProto[request.role]!, actorId: callerOf(ctx).id }),
      );
      return { user: userToProto(user) };
    },

    async setUserActive(request, ctx) {
      const user = await mapErrors(() =>
        changeActive(deps, { userId: request.id, active: request.active, actorId: callerOf(ctx).id }),
      );
      return { user: userToProto(user) };
    },

    async eraseUser(request) {
      // The admin service names the admin: the caller here is the admin service itself.
      const { user, changed } = await mapErrors(() =>
        eraseUser(deps, { userId: request.id, actorId: request.actorId }),
      );
      return { user: userToProto(user), changed };
    },
  };
}

async function userOrNotFound(deps: { db: SessionDeps["db"] }, id: string): Promise<User> {
  const user = await findUserById(deps.db, id);
  if (!user) throw new ConnectError(`user ${id} not found`, Code.NotFound);
  return user;
}

async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof EmailTakenError) throw reasonedError("EMAIL_TAKEN", error.message, {});
    if (error instanceof InvalidCredentialsError) throw reasonedError("INVALID_CREDENTIALS", error.message, {});
    if (error instanceof InvalidVerificationTokenError)
      throw reasonedError("VERIFICATION_TOKEN_INVALID", error.message, {});
    if (error instanceof InvalidResetTokenError) throw reasonedError("RESET_TOKEN_INVALID", error.message, {});
    if (error instanceof InvalidRefreshTokenError) throw reasonedError("REFRESH_TOKEN_INVALID", error.message, {});
    if (error instanceof UserNotFoundError) throw new ConnectError(error.message, Code.NotFound);
    if (error instanceof TooManyAttemptsError)
      throw rateLimitedError(error.message, error.retryAfterSeconds, error.scope);
    throw error;
  }
}

function userToProto(user: User): MessageInitShape<typeof UserSchema> {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    phone: user.phone,
    role: protoRoles[user.role],
    active: user.active,
    emailVerified: user.emailVerified,
    createTime: timestampFromDate(user.createTime),
    lastLoginTime: user.lastLoginTime ? timestampFromDate(user.lastLoginTime) : undefined,
  };
}

function tokensToProto(tokens: Tokens): MessageInitShape<typeof TokensSchema> {
  return {
    accessToken: tokens.accessToken,
    accessExpireTime: timestampFromDate(tokens.accessExpireTime),
    refreshToken: tokens.refreshToken,
    refreshExpireTime: timestampFromDate(tokens.refreshExpireTime),
  };
}
