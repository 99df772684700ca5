// People and shelves for end-to-end tests: dev accounts signed in, fresh customers, and the dev
// seller's shop and category to put test products in.
import { randomBytes } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import type { AuthService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import type { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import type { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { bearer } from "../../services/kit/testing/calls.ts";

/** Call options signed in as an existing account. */
export async function signIn(auth: Client<typeof AuthService>, account: { email: string; password: string }) {
  return bearer((await auth.login(account)).tokens!.accessToken);
}

/** A newly registered customer: call options signed in as them, and their id. */
export async function registerCustomer(auth: Client<typeof AuthService>, label = "buyer") {
  const { tokens, user } = await auth.register({
    email: `${label}-${randomBytes(5).toString("hex")}@example.test`,
    password: "password-123",
    displayName: "Buyer",
  });
  return { ...bearer(tokens!.accessToken), id: user!.id };
}

/** A newly registered seller (a rival of the dev seller): call options signed in as them, and their id. */
export async function registerSeller(auth: Client<typeof AuthService>, label = "seller") {
  const { tokens, user } = await auth.register({
    email: `${label}-${randomBytes(5).toString("hex")}@example.test`,
    password: "password-123",
    displayName: "Rival Seller",
    role: Role.SELLER,
  });
  return { ...bearer(tokens!.accessToken), id: user!.id };
}

/** The dev seller signed in, with the shop and category of their first demo product. */
export async function devSellerShelf(auth: Client<typeof AuthService>, products: Client<typeof ProductService>) {
  const asSeller = await signIn(auth, devAccounts.seller);
  const sample = (await products.listProducts({ sellerId: devAccounts.seller.id, pageSize: 1 })).products[0]!;
  return { asSeller, shopId: sample.shopId, categoryId: sample.categoryId };
}

/**
 * A new product on the dev seller's shelf (4.50, five in stock) in the dev customer's cart:
 * what a checkout test buys. Returns the product's id and the customer's call options.
 */
export async function devCustomerCartWithNewProduct(
  clients: {
    auth: Client<typeof AuthService>;
    products: Client<typeof ProductService>;
    carts: Client<typeof CartService>;
  },
  name: string,
) {
  const { auth, products, carts } = clients;
  const { asSeller, shopId, categoryId } = await devSellerShelf(auth, products);
  const { product } = await products.createProduct(
    {
      product: {
        shopId,
        categoryId,
        name: `${name} ${randomBytes(3).toString("hex")}`,
        price: { currencyCode: "USD", amountMinor: 450n },
        stockOnHand: 5,
      },
    },
    asSeller,
  );
  const asCustomer = await signIn(auth, devAccounts.customer);
  await carts.addCartItem({ productId: product!.id, quantity: 1 }, asCustomer);
  return { productId: product!.id, asCustomer };
}
