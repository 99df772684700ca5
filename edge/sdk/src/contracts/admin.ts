// Messages and enums of bazaar.admin.v1 (AdminService): `@bazaar/sdk/admin`.
export * from "../../../../gen/bazaar/admin/v1/admin_pb.ts";
