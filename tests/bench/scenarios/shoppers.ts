// The cast of the signed-in scenarios, made through the edge like any client would: many
// registered shoppers, so no single cart row or user row is the hot spot, and a few products
// with more stock than any run can sell, in one of the demo seller's shops.
import { devAccounts } from "../../../services/kit/dev-accounts.ts";
import { runEach } from "../load/closed-loop.ts";
import { LatencyRecorder } from "../load/figures.ts";
import { callEdge } from "../wire.ts";

export interface Shopper {
  email: string;
  password: string;
  accessToken: string;
}

export interface Shoppers {
  shoppers: Shopper[];
  /** Products the shoppers buy; each has stock for a million units. */
  productIds: string[];
  /** The demo seller, signed in, and the shop the checkout products belong to. */
  seller: { accessToken: string; shopId: string };
}

const checkoutProductCount = 32;
/** The most a product may hold (the contract's limit). */
const unlimitedStock = 1_000_000;

export async function prepareShoppers(edgeUrl: string, count: number, log: (line: string) => void): Promise<Shoppers> {
  log(`▶ registering ${count} shoppers`);
  const started = performance.now();
  // Unique per run, so a reused mesh takes another run's users as new ones.
  const runId = Date.now().toString(36);
  const password = `bench-password-${runId}`;
  const shoppers: Shopper[] = [];
  const registrations = new LatencyRecorder();
  // Registering hashes a password (argon2id): a handful at a time is what the auth service can do.
  await runEach(
    Array.from({ length: count }, (_, n) => n),
    {
      concurrency: 8,
      async call(n) {
        const email = `bench-${runId}-${n}@bazaar.test`;
        const { tokens } = await callEdge(edgeUrl, "bazaar.auth.v1.AuthService/Register", {
          email,
          password,
          displayName: `Bench shopper ${n}`,
        });
        shoppers.push({ email, password, accessToken: tokens.accessToken });
        return undefined;
      },
      recorder: registrations,
    },
  );
  const { errorReasons } = registrations.figures(0);
  if (shoppers.length < count) throw new Error(`registering bench shoppers failed: ${JSON.stringify(errorReasons)}`);

  const seller = await callEdge(edgeUrl, "bazaar.auth.v1.AuthService/Login", {
    email: devAccounts.seller.email,
    password: devAccounts.seller.password,
  });
  const template = await sellerProduct(edgeUrl);
  const productIds: string[] = [];
  for (let n = 0; n < checkoutProductCount; n++) {
    const { product } = await callEdge(
      edgeUrl,
      "bazaar.product.v1.ProductService/CreateProduct",
      {
        product: {
          shopId: template.shopId,
          categoryId: template.categoryId,
          name: `Bench checkout item ${n}`,
          description: "Bought by the bench's checkout scenario.",
          price: { currencyCode: template.price.currencyCode, amountMinor: String(500 + n) },
          stockOnHand: unlimitedStock,
        },
      },
      seller.tokens.accessToken,
    );
    productIds.push(product.id);
  }
  log(
    `  ${count} shoppers and ${checkoutProductCount} checkout products ready in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return { shoppers, productIds, seller: { accessToken: seller.tokens.accessToken, shopId: template.shopId } };
}

/** A product of the demo seller, whose shop and category the checkout products share. */
async function sellerProduct(
  edgeUrl: string,
): Promise<{ shopId: string; categoryId: string; price: { currencyCode: string } }> {
  const { products } = await callEdge(edgeUrl, "bazaar.product.v1.ProductService/ListProducts", { pageSize: 100 });
  const own = products.find((product: { sellerId: string }) => product.sellerId === devAccounts.seller.id);
  if (!own) throw new Error("no product of the demo seller: the mesh must run with BAZAAR_DEMO_SEED=1");
  return own;
}
