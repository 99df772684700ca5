// Checkout, the saga the order service owns: read the cart, take prices from the catalog, write
// the order PENDING, sell the stock (reserved and sold in one call), take payment, confirm. Every
// failure after the order exists is compensated (stock given back, order CANCELLED or
// PAYMENT_FAILED). A step whose outcome is unknown (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELED) is
// repeated, never guessed; if it stays unknown the order is left PENDING and the recovery loop
// settles it (settle.ts).
import { createHash } from "node:crypto";
import { inTransaction } from "../../kit/db.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { PostalAddress } from "../../kit/postal-address.ts";
import { findOrder, findOrderIdByKey, insertPendingOrder } from "../db/order.repository.ts";
import { payByCard } from "./card-payment.ts";
import {
  EmptyCartError,
  IdempotencyKeyReusedError,
  splitByShop,
  totalsOf,
  UnavailableProductsError,
  type Order,
  type OrderLine,
  type PaymentMethod,
} from "./order.ts";
import type { OrderDeps, ShopperPorts } from "./ports.ts";
import { abandonOrder, confirmOrder, isOutcomeUnknown, repeatUntilKnown } from "./settle.ts";

export interface CheckoutRequest {
  userId: string;
  idempotencyKey: string;
  shippingAddress: PostalAddress;
  paymentMethod: PaymentMethod;
  cardToken: string;
  /** Where a 3-D Secure page sends the buyer back to; may be empty. */
  returnUrl: string;
}

export async function placeOrder(deps: OrderDeps, shopper: ShopperPorts, request: CheckoutRequest): Promise<Order> {
  // The key first: a retry whose first call succeeded finds the cart already emptied of what
  // that call bought, and must get the order back, not "the cart is empty".
  const fingerprint = fingerprintOf(request);
  const earlier = await findOrderIdByKey(deps.db, request.userId, request.idempotencyKey);
  if (earlier) return settledOrder(deps, request.idempotencyKey, earlier, fingerprint);

  const cart = await shopper.cartLines();
  if (cart.length === 0) throw new EmptyCartError();

  // Prices come from the catalog now, never from the cart or the client.
  const products = new Map((await shopper.products(cart.map((line) => line.productId))).map((p) => [p.productId, p]));
  const unavailable = cart.filter((line) => !products.get(line.productId)?.forSale).map((line) => line.productId);
  if (unavailable.length > 0) throw new UnavailableProductsError(unavailable);
  const lines: OrderLine[] = cart.map((line) => {
    const { productId, shopId, name, unitPriceMinor, imageJson } = products.get(line.productId)!;
    const lineTotalMinor = unitPriceMinor * BigInt(line.quantity);
    return { productId, shopId, name, unitPriceMinor, quantity: line.quantity, lineTotalMinor, imageJson };
  });
  const totals = totalsOf(lines, deps.pricing);
  // Who owns each shop now, from the catalog: the seller who will fulfil that part.
  const sellers = new Map([...products.values()].map((p) => [p.shopId, p.sellerId]));
  const shopOrders = splitByShop(lines, (shopId) => sellers.get(shopId) ?? "", uuidv7);

  const orderId = uuidv7();
  const order = {
    id: orderId,
    userId: request.userId,
    lines,
    totalMinor: totals.totalMinor,
    stockTaken: "SOLD" as const,
  };
  const created = await inTransaction(deps.db, (trx) =>
    insertPendingOrder(
      trx,
      {
        ...order,
        ...totals,
        currencyCode: deps.currencyCode,
        shippingAddress: request.shippingAddress,
        paymentMethod: request.paymentMethod,
        idempotencyKey: request.idempotencyKey,
        requestFingerprint: fingerprint,
        shopOrders,
      },
      new Date(Date.now() + deps.recoverAfterMs),
    ),
  );
  if (!created) {
    // Another call with the same key won the insert a moment ago.
    const winner = (await findOrderIdByKey(deps.db, request.userId, request.idempotencyKey))!;
    return settledOrder(deps, request.idempotencyKey, winner, fingerprint);
  }

  const items = lines.map((line) => ({ productId: line.productId, quantity: line.quantity }));
  // Sold at once, for card payments too: a hold committed after the payment cost a second
  // inventory call and a second stock event per order. While a card payment is pending (3-D
  // Secure) the units are out of stock either way; an order that fails gives them back.
  try {
    await repeatUntilKnown(() => deps.stock.reserve(orderId, items, { sellNow: true }));
  } catch (error) {
    if (!isOutcomeUnknown(error)) await abandonOrder(deps, order, "CANCELLED", "stock could not be reserved");
    throw error;
  }

  if (request.paymentMethod === "CARD") {
    // Confirmed, failed, or left PENDING awaiting the buyer's confirmation (3-D Secure).
    await payByCard(deps, order, { cardToken: request.cardToken, returnUrl: request.returnUrl });
  } else {
    await confirmOrder(deps, order, "cash on delivery");
  }
  return (await findOrder(deps.db, orderId))!;
}

/**
 * The order an earlier call with this key made, once it has left PENDING or awaits the buyer's
 * payment (or a few seconds passed).
 */
async function settledOrder(
  deps: OrderDeps,
  idempotencyKey: string,
  earlier: { id: string; fingerprint: string },
  fingerprint: string,
): Promise<Order> {
  if (earlier.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError(idempotencyKey, earlier.id);
  const deadline = Date.now() + 8_000;
  let order = (await findOrder(deps.db, earlier.id))!;
  while (order.status === "PENDING" && !awaitsPayment(order) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    order = (await findOrder(deps.db, earlier.id))!;
  }
  return order;
}

function awaitsPayment(order: Order): boolean {
  return order.payment.status === "REQUIRES_ACTION" || order.payment.status === "PROCESSING";
}

/**
 * What a retry must repeat: the request's own fields. The cart is not part of it — it is the
 * server's state, which the first call consumed.
 */
function fingerprintOf(request: CheckoutRequest): string {
  const payload = JSON.stringify({
    address: request.shippingAddress,
    method: request.paymentMethod,
    card: request.cardToken,
    // Left out when empty, so fingerprints stored before return URLs existed still match.
    returnUrl: request.returnUrl || undefined,
  });
  return createHash("sha256").update(payload).digest("hex");
}
