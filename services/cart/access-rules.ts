// Who may call each RPC of the cart service: signed-in users, each for their own cart.
import { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { accessRules } from "../kit/auth.ts";

export const cartAccessRules = [
  accessRules(CartService, {
    getCart: "user",
    addCartItem: "user",
    updateCartItem: "user",
    removeCartItem: "user",
    clearCart: "user",
  }),
];
