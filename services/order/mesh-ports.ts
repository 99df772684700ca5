// The order domain's ports bound to the mesh: the buyer's cart and the catalog read with the
// buyer's own token, stock holds and card payments under the order service's identity.
import { toJsonString } from "@bufbuild/protobuf";
import type { Client, HandlerContext } from "@connectrpc/connect";
import { ImageSchema } from "../../gen/bazaar/common/v1/common_pb.ts";
import type { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import {
  type Payment,
  type PaymentService,
  PaymentStatus as ProtoPaymentStatus,
} from "../../gen/bazaar/payment/v1/payment_pb.ts";
import type { InventoryService, ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { forwardFrom } from "../kit/clients.ts";
import type { ServiceTokenSource } from "../kit/identity.ts";
import type { CardPayment, CardPaymentStatus, PaymentsPort } from "./domain/payments.ts";
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
        imageJson: p.images[0] ? toJsonString(ImageSchema, p.images[0]) : "",
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
    async reserve(orderId, items, { sellNow = false } = {}) {
      await inventory.reserveStock({ reservationId: orderId, items, sellNow }, await options());
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

/**
 * Card payments through the payment service. Like stock holds, each call has a deadline of its
 * own: a payment that was started must be able to finish or be given back.
 */
export function paymentServicePayments(
  payments: Client<typeof PaymentService>,
  serviceToken: ServiceTokenSource,
): PaymentsPort {
  const options = async () => ({ timeoutMs: 10_000, headers: { authorization: await serviceToken.authorization() } });
  return {
    async start(request) {
      const { payment } = await payments.createPayment(
        {
          orderId: request.orderId,
          amount: { currencyCode: request.currencyCode, amountMinor: request.amountMinor },
          paymentMethodToken: request.cardToken,
          returnUrl: request.returnUrl,
          capture: request.capture,
        },
        await options(),
      );
      return cardPaymentOf(payment!);
    },
    async ofOrder(orderId) {
      const { payments: found } = await payments.listPayments({ orderId, pageSize: 1 }, await options());
      if (found.length === 0) return undefined;
      // The list leaves refunds out; giving money back needs them.
      const { payment } = await payments.getPayment({ id: found[0]!.id }, await options());
      return cardPaymentOf(payment!);
    },
    async capture(paymentId) {
      return cardPaymentOf((await payments.capturePayment({ id: paymentId }, await options())).payment!);
    },
    async cancel(paymentId) {
      return cardPaymentOf((await payments.cancelPayment({ id: paymentId }, await options())).payment!);
    },
    async refund(request) {
      const { payment } = await payments.refundPayment(
        {
          id: request.paymentId,
          refundKey: request.refundKey,
          amount: { currencyCode: request.currencyCode, amountMinor: request.amountMinor },
        },
        await options(),
      );
      return cardPaymentOf(payment!);
    },
  };
}

/** The contract's payment statuses by number, as the order domain names them. */
const cardStatusOf = new Map(
  Object.entries(ProtoPaymentStatus).map(([name, value]) => [value as ProtoPaymentStatus, name as CardPaymentStatus]),
);

function cardPaymentOf(payment: Payment): CardPayment {
  return {
    id: payment.id,
    status: cardStatusOf.get(payment.status)!,
    providerPaymentId: payment.providerPaymentId,
    ...(payment.nextAction && {
      nextAction: { redirectUrl: payment.nextAction.redirectUrl, clientSecret: payment.nextAction.clientSecret },
    }),
    failureReason: payment.failureReason,
    currencyCode: payment.amount?.currencyCode ?? "",
    capturedMinor: payment.captured?.amountMinor ?? 0n,
    refundedMinor: payment.refunded?.amountMinor ?? 0n,
    refunds: payment.refunds.map((refund) => ({
      refundKey: refund.refundKey,
      amountMinor: refund.amount?.amountMinor ?? 0n,
    })),
  };
}
