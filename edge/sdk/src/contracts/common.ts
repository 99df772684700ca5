// Messages and enums every API shares (Money, Role, …): `@bazaar/sdk/common`.
export * from "../../../../gen/bazaar/common/v1/common_pb.ts";
