// CartService: the caller's own cart only — the user id comes from the verified token, never
// from the request, so no request can name another user's cart.
import { fromJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { CartService, CartSchema } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { ImageSchema } from "../../gen/bazaar/common/v1/common_pb.ts";
import { callerOf } from "../kit/auth.ts";
import { reasonedError } from "../kit/error-info.ts";
import {
  CartFullError,
  LineNotFoundError,
  NotEnoughStockError,
  ProductUnavailableError,
  type CartView,
} from "./domain/cart.ts";
import { addItem, clearCart, removeItem, setItemQuantity, viewCart, type CartDeps } from "./domain/manage-cart.ts";

export function createCartService(deps: CartDeps & { currencyCode: string }): ServiceImpl<typeof CartService> {
  const respond = async (ctx: HandlerContext, work: (userId: string) => Promise<CartView>) => {
    try {
      return { cart: cartToProto(await work(callerOf(ctx).id), deps.currencyCode) };
    } catch (error) {
      if (error instanceof ProductUnavailableError) {
        const ids = { product_id: error.productId, product_ids: error.productId };
        throw reasonedError("PRODUCT_UNAVAILABLE", error.message, ids);
      }
      if (error instanceof NotEnoughStockError) {
        throw reasonedError("OUT_OF_STOCK", error.message, {
          product_id: error.productId,
          product_ids: error.productId,
          requested: String(error.requested),
          available: String(error.available),
        });
      }
      if (error instanceof CartFullError) {
        throw reasonedError("CART_LIMIT_REACHED", error.message, { limit: error.limit, max: String(error.max) });
      }
      if (error instanceof LineNotFoundError) throw new ConnectError(error.message, Code.NotFound);
      throw error;
    }
  };
  return {
    getCart: (_, ctx) => respond(ctx, (userId) => viewCart(deps, userId)),
    addCartItem: (request, ctx) => respond(ctx, (userId) => addItem(deps, userId, request.productId, request.quantity)),
    updateCartItem: (request, ctx) =>
      respond(ctx, (userId) => setItemQuantity(deps, userId, request.productId, request.quantity)),
    removeCartItem: (request, ctx) => respond(ctx, (userId) => removeItem(deps, userId, request.productId)),
    clearCart: (_, ctx) => respond(ctx, (userId) => clearCart(deps, userId)),
  };
}

function cartToProto(cart: CartView, currencyCode: string): MessageInitShape<typeof CartSchema> {
  const money = (amountMinor: bigint) => ({ currencyCode, amountMinor });
  return {
    items: cart.lines.map((line) => ({
      productId: line.productId,
      name: line.product?.name ?? "",
      unitPrice: money(line.product?.unitPriceMinor ?? 0n),
      quantity: line.quantity,
      lineTotal: money(line.lineTotalMinor),
      imageUrl: line.product?.imageUrl ?? "",
      image: line.product?.imageJson ? fromJsonString(ImageSchema, line.product.imageJson) : undefined,
      available: line.available,
      stockAvailable: line.product?.forSale ? line.product.stockAvailable : 0,
    })),
    totalItems: cart.totalItems,
    subtotal: money(cart.subtotalMinor),
    updateTime: cart.updateTime ? timestampFromDate(cart.updateTime) : undefined,
  };
}
