// Messages and enums of bazaar.product.v1 (ProductService, ShopService, MediaService):
// `@bazaar/sdk/product`. InventoryService, ShopAdminService and CategoryAdminService, in the
// same files, are internal.
export * from "../../../../gen/bazaar/product/v1/media_pb.ts";
export * from "../../../../gen/bazaar/product/v1/product_pb.ts";
