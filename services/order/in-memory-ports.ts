// The order service's neighbours in memory, for its tests: the buyer's cart, the catalog and its
// shops as services reached over a router transport (so calls carry the buyer's headers as over
// the mesh), stock holds, and builders of products and checkout requests.
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type CallOptions,
  type Client,
} from "@connectrpc/connect";
import { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { PaymentMethod } from "../../gen/bazaar/order/v1/order_pb.ts";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { uuidv7 } from "../kit/ids.ts";
import { notYetImplemented } from "../kit/not-implemented.ts";
import type { CardPayment, PaymentsPort } from "./domain/payments.ts";
import type { StockPort } from "./domain/ports.ts";

/** What the catalog tells checkout of a product. */
export interface Product {
  id: string;
  shopId: string;
  sellerId: string;
  name: string;
  price: { currencyCode: string; amountMinor: bigint };
  active: boolean;
}

/** Carts by the authorization header that reads them, as the cart service knows its caller. */
export interface InMemoryCarts {
  client: Client<typeof CartService>;
  /** Puts lines in the cart of the buyer whose call options these are. */
  fill(buyer: CallOptions, lines: Array<{ productId: string; quantity: number }>): void;
  goDown(): void;
}

export function inMemoryCarts(): InMemoryCarts {
  const carts = new Map<string, Array<{ productId: string; quantity: number }>>();
  const keyOf = (headers: HeadersInit | undefined) => new Headers(headers).get("authorization") ?? "";
  let down = false;
  const transport = createRouterTransport((router) =>
    router.service(CartService, {
      ...notYetImplemented(CartService, "no test"),
      getCart(_, ctx) {
        if (down) throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
        return { cart: { items: carts.get(ctx.requestHeader.get("authorization") ?? "") ?? [] } };
      },
    }),
  );
  return {
    client: createClient(CartService, transport),
    fill: (buyer, lines) => carts.set(keyOf(buyer.headers), lines),
    goDown: () => (down = true),
  };
}

export interface InMemoryProducts {
  client: Client<typeof ProductService>;
  shelve(product: Product): Product;
}

export function inMemoryProducts(): InMemoryProducts {
  const products = new Map<string, Product>();
  const transport = createRouterTransport((router) =>
    router.service(ProductService, {
      ...notYetImplemented(ProductService, "no test"),
      batchGetProducts(request) {
        return {
          products: request.ids.flatMap((id) => (products.has(id) ? [products.get(id)!] : [])),
          missingIds: request.ids.filter((id) => !products.has(id)),
        };
      },
    }),
  );
  return {
    client: createClient(ProductService, transport),
    shelve(product) {
      products.set(product.id, product);
      return product;
    },
  };
}

/** A product for sale at 12.00 EUR. */
export function aProduct(overrides: Partial<Product> = {}): Product {
  return {
    id: uuidv7(),
    shopId: uuidv7(),
    sellerId: uuidv7(),
    name: "Teapot",
    price: { currencyCode: "EUR", amountMinor: 1200n },
    active: true,
    ...overrides,
  };
}

/**
 * Stock per product; holds are all or nothing and answer as the inventory service does. `held`
 * is what each order still holds or bought; `returns` the partial returns by return id.
 */
export interface InMemoryStock extends StockPort {
  stock: Map<string, number>;
  held: Map<string, Array<{ productId: string; quantity: number }>>;
  returns: Map<string, Array<{ productId: string; quantity: number }>>;
}

export function inMemoryStock(): InMemoryStock {
  const stock = new Map<string, number>();
  const held = new Map<string, Array<{ productId: string; quantity: number }>>();
  const returns = new Map<string, Array<{ productId: string; quantity: number }>>();
  return {
    stock,
    held,
    returns,
    async giveBackItems(orderId, returnId, items) {
      if (returns.has(returnId)) return;
      const taken = held.get(orderId) ?? [];
      const given = items.map((item) => {
        const line = taken.find((t) => t.productId === item.productId);
        const quantity = Math.min(item.quantity, line?.quantity ?? 0);
        if (line) line.quantity -= quantity;
        stock.set(item.productId, (stock.get(item.productId) ?? 0) + quantity);
        return { productId: item.productId, quantity };
      });
      returns.set(returnId, given);
    },
    async reserve(orderId, items) {
      if (held.has(orderId)) return;
      const short = items.filter((item) => (stock.get(item.productId) ?? 0) < item.quantity);
      if (short.length > 0) {
        throw new ConnectError(
          `not enough stock for ${short.map((s) => s.productId).join(", ")}`,
          Code.FailedPrecondition,
        );
      }
      for (const item of items) stock.set(item.productId, stock.get(item.productId)! - item.quantity);
      held.set(
        orderId,
        items.map((item) => ({ ...item })),
      );
    },
    async commit(orderId) {
      if (!held.has(orderId)) throw new ConnectError(`reservation ${orderId} was released`, Code.FailedPrecondition);
    },
    async giveBack(orderId) {
      for (const item of held.get(orderId) ?? [])
        stock.set(item.productId, (stock.get(item.productId) ?? 0) + item.quantity);
      held.delete(orderId);
    },
  };
}

/**
 * Card payments as the payment service answers them, by card token: tok_visa authorizes,
 * tok_threeDSecure waits for the buyer, tok_delayedSuccess for the provider (PROCESSING, which
 * cannot be voided), tok_chargeDeclined declines, tok_unavailable is a provider that cannot be
 * reached. `decide` plays the buyer's bank after 3-D Secure; `refunds`
 * is every refund asked, in order.
 */
export interface InMemoryPayments extends PaymentsPort {
  refunds: Array<{ orderId: string; refundKey: string; amountMinor: bigint }>;
  byOrder: Map<string, CardPayment>;
  decide(orderId: string, status: "AUTHORIZED" | "CAPTURED" | "FAILED"): void;
}

export function inMemoryPayments(): InMemoryPayments {
  const byOrder = new Map<string, CardPayment>();
  const refunds: InMemoryPayments["refunds"] = [];
  /** What each payment authorized, by payment id: a capture takes all of it. */
  const amounts = new Map<string, bigint>();
  const find = (paymentId: string) => {
    const found = [...byOrder.entries()].find(([, payment]) => payment.id === paymentId);
    if (!found) throw new ConnectError(`payment ${paymentId} not found`, Code.NotFound);
    return found;
  };
  const copy = (payment: CardPayment): CardPayment => structuredClone(payment);
  return {
    refunds,
    byOrder,
    decide(orderId, status) {
      const payment = byOrder.get(orderId)!;
      payment.status = status;
      if (status === "CAPTURED") payment.capturedMinor = amounts.get(payment.id)!;
      delete payment.nextAction;
    },
    async start(request) {
      const known = byOrder.get(request.orderId);
      if (known) return copy(known);
      if (request.cardToken === "tok_unavailable") {
        throw new ConnectError("the payment provider is unavailable; try again", Code.Unavailable);
      }
      const id = uuidv7();
      const byToken: Record<string, CardPayment["status"]> = {
        tok_visa: "AUTHORIZED",
        tok_threeDSecure: "REQUIRES_ACTION",
        tok_delayedSuccess: "PROCESSING",
      };
      const authorized = byToken[request.cardToken] ?? "FAILED";
      const status = authorized === "AUTHORIZED" && request.capture ? "CAPTURED" : authorized;
      const payment: CardPayment = {
        id,
        status,
        providerPaymentId: `test_pi_${id}`,
        ...(status === "REQUIRES_ACTION" && {
          nextAction: { redirectUrl: `https://edge.test/pay/test/${id}`, clientSecret: "" },
        }),
        failureReason: status === "FAILED" ? "the card was declined" : "",
        currencyCode: request.currencyCode,
        capturedMinor: status === "CAPTURED" ? request.amountMinor : 0n,
        refundedMinor: 0n,
        refunds: [],
      };
      byOrder.set(request.orderId, payment);
      amounts.set(id, request.amountMinor);
      return copy(payment);
    },
    async ofOrder(orderId) {
      const payment = byOrder.get(orderId);
      return payment && copy(payment);
    },
    async capture(paymentId) {
      const [, payment] = find(paymentId);
      if (payment.status === "AUTHORIZED") {
        payment.status = "CAPTURED";
        payment.capturedMinor = amounts.get(paymentId)!;
      } else if (payment.status !== "CAPTURED") {
        throw new ConnectError(`payment ${paymentId} is ${payment.status}`, Code.FailedPrecondition);
      }
      return copy(payment);
    },
    async cancel(paymentId) {
      const [, payment] = find(paymentId);
      if (payment.status === "PROCESSING") {
        throw new ConnectError(`payment ${paymentId} is PROCESSING`, Code.FailedPrecondition);
      }
      if (payment.status === "AUTHORIZED" || payment.status === "REQUIRES_ACTION") payment.status = "CANCELED";
      return copy(payment);
    },
    async refund(request) {
      const [orderId, payment] = find(request.paymentId);
      if (payment.refunds.some((refund) => refund.refundKey === request.refundKey)) return copy(payment);
      if (request.amountMinor > payment.capturedMinor - payment.refundedMinor) {
        throw new ConnectError("refund exceeds the capture", Code.FailedPrecondition);
      }
      payment.refundedMinor += request.amountMinor;
      payment.refunds.push({ refundKey: request.refundKey, amountMinor: request.amountMinor });
      payment.status = payment.refundedMinor === payment.capturedMinor ? "REFUNDED" : "PARTIALLY_REFUNDED";
      refunds.push({ orderId, refundKey: request.refundKey, amountMinor: request.amountMinor });
      return copy(payment);
    },
  };
}

/** What a buyer sends to PlaceOrder. */
export interface Checkout {
  idempotencyKey: string;
  shippingAddress: { recipientName: string; line1: string; city: string; postalCode: string; countryCode: string };
  payment: { method: PaymentMethod; cardToken?: string };
}

/** A checkout paid on delivery to an address in Berlin; override what the story needs. */
export function aCheckout(overrides: Partial<Checkout> = {}): Checkout {
  return {
    idempotencyKey: `checkout-${uuidv7()}`,
    shippingAddress: {
      recipientName: "Ada",
      line1: "Hauptstr. 1",
      city: "Berlin",
      postalCode: "10115",
      countryCode: "DE",
    },
    payment: { method: PaymentMethod.CASH_ON_DELIVERY },
    ...overrides,
  };
}
