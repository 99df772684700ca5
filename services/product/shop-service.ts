// ShopService: proto ↔ domain, domain errors → ConnectError.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { ShopStatus, type ShopService, type ShopSchema } from "../../gen/bazaar/product/v1/product_pb.ts";
import { callerKey, callerOf, type Caller } from "../kit/auth.ts";
import { postalAddressFromProto } from "../kit/postal-address.ts";
import { findShopById, listShopsNear } from "./db/shop.repository.ts";
import { cursorField, pageSizeOf, pageTokenCodec } from "../kit/pages.ts";
import { canManage, NotAllowedError, ShopNotFoundError } from "./domain/manage-catalog.ts";
import { changeShop, openShop, type Shop, type ShopDeps } from "./domain/shops.ts";
import { imagesOf } from "./db/media.repository.ts";
import { imageToProto } from "./media/image-proto.ts";

export function createShopService(deps: ShopDeps): ServiceImpl<typeof ShopService> {
  return {
    async createShop(request, ctx) {
      const shop = request.shop!;
      const created = await openShop(deps, callerOf(ctx), {
        name: shop.name,
        description: shop.description,
        address: postalAddressFromProto(shop.address!),
        location: { latitude: shop.location!.latitude, longitude: shop.location!.longitude },
      });
      return { shop: (await shopsToProto(deps, [created], () => true))[0]! };
    },

    async getShop(request, ctx) {
      const shop = await findShopById(deps.db, request.id);
      if (!shop) throw new ConnectError(`shop ${request.id} not found`, Code.NotFound);
      const caller = ctx.values.get(callerKey);
      return { shop: (await shopsToProto(deps, [shop], (s) => ownerOrAdmin(caller, s)))[0]! };
    },

    async updateShop(request, ctx) {
      const shop = request.shop!;
      if (!shop.id) throw new ConnectError("shop.id: required", Code.InvalidArgument);
      const paths = new Set(request.updateMask!.paths);
      if (paths.has("name") && !shop.name) throw new ConnectError("shop.name: must not be empty", Code.InvalidArgument);
      if (paths.has("address") && !shop.address)
        throw new ConnectError("shop.address: required by the mask", Code.InvalidArgument);
      if (paths.has("location") && !shop.location)
        throw new ConnectError("shop.location: required by the mask", Code.InvalidArgument);
      try {
        const updated = await changeShop(deps, callerOf(ctx), shop.id, {
          name: paths.has("name") ? shop.name : undefined,
          description: paths.has("description") ? shop.description : undefined,
          address: paths.has("address") ? postalAddressFromProto(shop.address!) : undefined,
          location: paths.has("location")
            ? { latitude: shop.location!.latitude, longitude: shop.location!.longitude }
            : undefined,
        });
        return { shop: (await shopsToProto(deps, [updated], () => true))[0]! };
      } catch (error) {
        if (error instanceof ShopNotFoundError) throw new ConnectError(error.message, Code.NotFound);
        if (error instanceof NotAllowedError) throw new ConnectError(error.message, Code.PermissionDenied);
        throw error;
      }
    },

    async listShops(request) {
      const limit = pageSizeOf(request.pageSize);
      const after = request.pageToken ? shopPages.decode(request.pageToken) : undefined;
      const rows = await listShopsNear(deps.db, {
        center: { latitude: request.location!.latitude, longitude: request.location!.longitude },
        radiusKm: request.radiusKm,
        nameContains: request.query || undefined,
        after,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      const shops = await shopsToProto(
        deps,
        page.map((row) => row.shop),
        () => false,
      );
      return {
        shops: page.map((row, i) => ({ shop: shops[i], distanceKm: row.distanceKm })),
        nextPageToken:
          rows.length > limit && last ? shopPages.encode({ distanceKm: last.distanceKm, id: last.shop.id }) : "",
      };
    },
  };
}

// Shops near a point continue after (distance, id) of the last shop.
const shopPages = pageTokenCodec({ distanceKm: cursorField.number("d"), id: cursorField.id("i") });

function ownerOrAdmin(caller: Caller | undefined, shop: Shop): boolean {
  return caller !== undefined && canManage(caller, shop.sellerId);
}

/**
 * Shops as the contract has them, with their logo and cover. What only its seller and admins see
 * (`managed`): why it is suspended, and a logo or cover still being processed.
 */
export async function shopsToProto(
  deps: Pick<ShopDeps, "db" | "images">,
  shops: Shop[],
  managed: (shop: Shop) => boolean,
): Promise<Array<MessageInitShape<typeof ShopSchema>>> {
  const rows = await imagesOf(
    deps.db,
    shops.map((shop) => shop.id),
    true,
  );
  return shops.map((shop) => {
    const manager = managed(shop);
    // The newest of the slot: a replacement shows its seller it is on its way.
    const newest = (slot: string) =>
      rows.filter((row) => row.owner_id === shop.id && row.slot === slot && (manager || row.status === "READY")).at(-1);
    const logo = newest("SHOP_LOGO");
    const cover = newest("SHOP_COVER");
    return {
      ...shopToProto(shop, manager),
      logo: logo && imageToProto(logo, deps.images),
      cover: cover && imageToProto(cover, deps.images),
    };
  });
}

function shopToProto(shop: Shop, showSuspendReason: boolean): MessageInitShape<typeof ShopSchema> {
  const suspended = shop.suspendTime !== null;
  return {
    id: shop.id,
    sellerId: shop.sellerId,
    name: shop.name,
    description: shop.description,
    address: shop.address,
    location: shop.location,
    createTime: timestampFromDate(shop.createTime),
    updateTime: timestampFromDate(shop.updateTime),
    status: suspended ? ShopStatus.SUSPENDED : ShopStatus.ACTIVE,
    suspendReason: showSuspendReason ? shop.suspendReason : "",
    suspendTime: shop.suspendTime ? timestampFromDate(shop.suspendTime) : undefined,
  };
}
