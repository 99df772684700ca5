// Who may call each RPC of the product service.
import {
  CategoryAdminService,
  InventoryService,
  ProductService,
  ShopAdminService,
  ShopService,
} from "../../gen/bazaar/product/v1/product_pb.ts";
import { MediaService } from "../../gen/bazaar/product/v1/media_pb.ts";
import { accessRules } from "../kit/auth.ts";

export const productAccessRules = [
  accessRules(ProductService, {
    listProducts: "public",
    searchProducts: "public",
    getProduct: "public",
    batchGetProducts: "public",
    listCategories: "public",
    createProduct: "seller",
    updateProduct: "seller",
    deleteProduct: "seller",
    adjustStock: "seller",
    createCategory: "admin",
  }),
  accessRules(ShopService, { getShop: "public", listShops: "public", createShop: "seller", updateShop: "seller" }),
  // Each checks that the caller is the product's or shop's seller, or an admin.
  accessRules(MediaService, {
    createImageUpload: "seller",
    confirmImageUpload: "seller",
    reorderProductImages: "seller",
    updateProductImage: "seller",
    deleteProductImage: "seller",
    deleteShopImage: "seller",
  }),
  accessRules(InventoryService, {
    reserveStock: "service",
    commitReservation: "service",
    releaseReservation: "service",
    returnReservation: "service",
    returnReservationItems: "service",
  }),
  // Only the admin service calls these, after checking that its caller is an admin.
  accessRules(ShopAdminService, { listAllShops: "service", suspendShop: "service", reactivateShop: "service" }),
  accessRules(CategoryAdminService, { updateCategory: "service", deleteCategory: "service" }),
];
