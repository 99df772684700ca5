// Who owns a shop, asked of the catalog (ShopService.GetShop) and remembered for a while: every
// ListShopOrders, WatchShopOrders and shop sales report needs it, and a shop never changes hands (no RPC moves
// one), so a minute-old answer is as good as a fresh one. Unknown shops are not remembered: one
// may be opened the next moment.
import { Code, ConnectError, type CallOptions, type Client } from "@connectrpc/connect";
import type { ShopService } from "../../gen/bazaar/product/v1/product_pb.ts";

export interface ShopOwners {
  /** The seller id owning the shop, or undefined when the catalog knows no such shop. */
  ownerOf(shopId: string, options?: CallOptions): Promise<string | undefined>;
}

export interface ShopOwnersOptions {
  /** How long an owner is remembered. */
  ttlMs?: number;
  /** Most shops remembered at once; the oldest entry goes first. */
  maxEntries?: number;
  now?: () => number;
}

export function cachedShopOwners(shops: Client<typeof ShopService>, options: ShopOwnersOptions = {}): ShopOwners {
  const ttlMs = options.ttlMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const owners = new Map<string, { sellerId: string; expiresAt: number }>();
  return {
    async ownerOf(shopId, callOptions) {
      const known = owners.get(shopId);
      if (known && known.expiresAt > now()) return known.sellerId;
      let sellerId: string;
      try {
        sellerId = (await shops.getShop({ id: shopId }, callOptions)).shop?.sellerId ?? "";
      } catch (error) {
        if (ConnectError.from(error).code === Code.NotFound) return undefined;
        throw error;
      }
      if (!sellerId) return undefined;
      owners.delete(shopId);
      if (owners.size >= maxEntries) owners.delete(owners.keys().next().value!);
      owners.set(shopId, { sellerId, expiresAt: now() + ttlMs });
      return sellerId;
    },
  };
}
