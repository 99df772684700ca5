// Messages of bazaar.cart.v1 (CartService): `@bazaar/sdk/cart`.
export * from "../../../../gen/bazaar/cart/v1/cart_pb.ts";
