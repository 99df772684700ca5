// The order domain's ports bound to the mesh: the buyer's cart and the catalog read with the
// buyer's own token, stock holds under the order service's identity.
import type { Client, HandlerContext } from "@connectrpc/connect";
import type { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import type { InventoryService, ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { forwardFrom } from "../kit/clients.ts";
import type { ServiceTokenSource } from "../kit/identity.ts";
import type { ShopperPorts, StockPort } from "./domain/ports.ts";

export function shopperPortsFor(
  clients: { cart: Client<typeof CartService>; products: Client<typeof ProductService> },
  ctx: HandlerContext,
): ShopperPorts {
  return {
    async cartLines() {
      const { cart } = await clients.cart.getCart({}, forwardFrom(ctx));
      return (cart?.items ?? []).map((item) => ({ productId: item.productId, quantity: item.quantity }));
    },
    async products(ids) {
      const { products } = await clients.products.batchGetProducts({ ids }, forwardFrom(ctx));
      return products.map((p) => ({
        productId: p.id,
        shopId: p.shopId,
        sellerId: p.sellerId,
        name: p.name,
        unitPriceMinor: p.price?.amountMinor ?? 0n,
        forSale: p.active,
      }));
    },
  };
}

/**
 * Stock holds keyed by order id. Each call has a deadline of its own rather than what is left
 * of the buyer's: once stock is held, checkout must be able to finish or give it back.
 */
export function inventoryStock(
  inventory: Client<typeof InventoryService>,
  serviceToken: ServiceTokenSource,
): StockPort {
  const options = async () => ({ timeoutMs: 5_000, headers: { authorization: await serviceToken.authorization() } });
  return {
    async reserve(orderId, items) {
      await inventory.reserveStock({ reservationId: orderId, items }, await options());
    },
    async commit(orderId) {
      await inventory.commitReservation({ reservationId: orderId }, await options());
    },
    async giveBack(orderId) {
      await inventory.returnReservation({ reservationId: orderId }, await options());
    },
    async giveBackItems(orderId, returnId, items) {
      await inventory.returnReservationItems({ reservationId: orderId, returnId, items }, await options());
    },
  };
}
