// Messages and enums of bazaar.auth.v1 (AuthService): `@bazaar/sdk/auth`. The file also
// describes internal services (UserDirectoryService, ServiceIdentityService) the edge does not
// route; the SDK's clients are for AuthService only.
export * from "../../../../gen/bazaar/auth/v1/auth_pb.ts";
