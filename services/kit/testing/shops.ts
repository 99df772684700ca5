// Shops and their owners as the catalog's ShopService answers GetShop, over a router transport,
// for the tests of what asks who owns a shop (kit/shop-owners.ts and the services using it).
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { ShopService } from "../../../gen/bazaar/product/v1/product_pb.ts";
import { notYetImplemented } from "../not-implemented.ts";

/** Shops and their owners as the catalog's ShopService answers GetShop; it counts the lookups. */
export interface InMemoryShops {
  client: Client<typeof ShopService>;
  open(shop: { shopId: string; sellerId: string }): void;
  lookups(): number;
}

export function inMemoryShops(): InMemoryShops {
  const owners = new Map<string, string>();
  let lookups = 0;
  const transport = createRouterTransport((router) =>
    router.service(ShopService, {
      ...notYetImplemented(ShopService, "no test"),
      getShop(request) {
        lookups++;
        const sellerId = owners.get(request.id);
        if (!sellerId) throw new ConnectError(`shop ${request.id} not found`, Code.NotFound);
        return { shop: { id: request.id, sellerId, name: "Tea House" } };
      },
    }),
  );
  return {
    client: createClient(ShopService, transport),
    open: (shop) => owners.set(shop.shopId, shop.sellerId),
    lookups: () => lookups,
  };
}
