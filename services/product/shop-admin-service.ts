// ShopAdminService (internal): shop moderation for the admin service, which checks that the
// caller is an admin and audits each change; here the shop's state and its event change together.
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type ShopAdminService, ShopStatus } from "../../gen/bazaar/product/v1/product_pb.ts";
import { idKeysetPage } from "../kit/pages.ts";
import { listAllShops } from "./db/shop.repository.ts";
import { ShopNotFoundError } from "./domain/manage-catalog.ts";
import { setShopSuspension, type ShopDeps } from "./domain/shops.ts";
import { shopsToProto } from "./shop-service.ts";

export function createShopAdminService(deps: ShopDeps): ServiceImpl<typeof ShopAdminService> {
  const moderate = async (work: () => ReturnType<typeof setShopSuspension>) => {
    try {
      const { shop, changed } = await work();
      return { shop: (await shopsToProto(deps, [shop], () => true))[0]!, changed };
    } catch (error) {
      if (error instanceof ShopNotFoundError) throw new ConnectError(error.message, Code.NotFound);
      throw error;
    }
  };
  return {
    async listAllShops(request) {
      const { rows, nextPageToken } = await idKeysetPage(
        request,
        (keyset) =>
          listAllShops(deps.db, {
            suspended: request.status === ShopStatus.UNSPECIFIED ? undefined : request.status === ShopStatus.SUSPENDED,
            sellerId: request.sellerId || undefined,
            nameContains: request.query || undefined,
            ...keyset,
          }),
        (shop) => shop.id,
      );
      return { shops: await shopsToProto(deps, rows, () => true), nextPageToken };
    },

    suspendShop: (request) =>
      moderate(() =>
        setShopSuspension(deps, request.actorId, request.id, { suspended: true, reason: request.reason.trim() }),
      ),

    reactivateShop: (request) =>
      moderate(() => setShopSuspension(deps, request.actorId, request.id, { suspended: false })),
  };
}
