// Who may call each RPC of the auth service.
import { AuthService, ServiceIdentityService, UserDirectoryService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { accessRules } from "../kit/auth.ts";

export const authAccessRules = [
  accessRules(AuthService, {
    register: "public",
    login: "public",
    refreshToken: "public",
    logout: "public",
    getJwks: "public",
    getMe: "user",
    updateMe: "user",
    changePassword: "user",
    requestPasswordReset: "public",
    resetPassword: "public",
    requestEmailVerification: "user",
    verifyEmail: "public",
  }),
  accessRules(UserDirectoryService, {
    listUsers: "service",
    getUser: "service",
    setUserRole: "service",
    setUserActive: "service",
    eraseUser: "service",
  }),
  // Authenticated by the shared service secret in the request, not by a token.
  accessRules(ServiceIdentityService, { issueServiceToken: "public" }),
];
