// OrderService: proto ↔ domain, domain errors → ConnectError. Cancellation and the order
// stream arrive later in M4.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import {
  OrderService,
  PaymentMethod as ProtoPaymentMethod,
  PaymentStatus as ProtoPaymentStatus,
  type OrderSchema,
} from "../../gen/bazaar/order/v1/order_pb.ts";
import type { InventoryService, ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { callerOf } from "../kit/auth.ts";
import { forwardFrom } from "../kit/clients.ts";
import { notYetImplemented } from "../kit/not-implemented.ts";
import { decodeIdCursor, encodeIdCursor, pageSizeOf } from "../kit/pages.ts";
import type { ServiceTokenSource } from "../kit/identity.ts";
import { findOrder, listOrdersOf } from "./db/order.repository.ts";
import {
  EmptyCartError,
  IdempotencyKeyReusedError,
  UnavailableProductsError,
  type Order,
  type OrderStatus,
  type PaymentStatus,
} from "./domain/order.ts";
import { placeOrder, protoStatus, type CheckoutDeps, type CheckoutPorts } from "./domain/place-order.ts";

export interface OrderServiceDeps extends CheckoutDeps {
  cart: Client<typeof CartService>;
  products: Client<typeof ProductService>;
  inventory: Client<typeof InventoryService>;
  serviceToken: ServiceTokenSource;
}

const statusToProto = protoStatus;
const statusFromProto = new Map(Object.entries(statusToProto).map(([k, v]) => [v, k as OrderStatus]));
const paymentStatusToProto: Record<PaymentStatus, ProtoPaymentStatus> = {
  PENDING: ProtoPaymentStatus.PENDING,
  AUTHORIZED: ProtoPaymentStatus.AUTHORIZED,
  DECLINED: ProtoPaymentStatus.DECLINED,
  FAILED: ProtoPaymentStatus.FAILED,
  DUE_ON_DELIVERY: ProtoPaymentStatus.DUE_ON_DELIVERY,
  REFUNDED: ProtoPaymentStatus.REFUNDED,
};
const later = notYetImplemented(OrderService, "a later part of M4");

export function createOrderService(deps: OrderServiceDeps): ServiceImpl<typeof OrderService> {
  return {
    async placeOrder(request, ctx) {
      const { id: userId } = callerOf(ctx);
      const address = request.shippingAddress!;
      try {
        const order = await placeOrder(deps, portsFor(deps, ctx), {
          userId,
          idempotencyKey: request.idempotencyKey,
          shippingAddress: {
            recipientName: address.recipientName,
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            region: address.region,
            postalCode: address.postalCode,
            countryCode: address.countryCode,
            phone: address.phone,
          },
          paymentMethod: request.payment!.method === ProtoPaymentMethod.CARD ? "CARD" : "CASH_ON_DELIVERY",
          cardToken: request.payment!.cardToken,
        });
        return { order: orderToProto(order) };
      } catch (error) {
        if (error instanceof EmptyCartError || error instanceof UnavailableProductsError) {
          throw new ConnectError(error.message, Code.FailedPrecondition);
        }
        if (error instanceof IdempotencyKeyReusedError) throw new ConnectError(`idempotency_key: ${error.message}`, Code.InvalidArgument);
        throw error;
      }
    },

    async getOrder(request, ctx) {
      const order = await findOrder(deps.db, request.id);
      // Another user's order is reported exactly like a missing one.
      if (!order || order.userId !== callerOf(ctx).id) throw new ConnectError(`order ${request.id} not found`, Code.NotFound);
      return { order: orderToProto(order) };
    },

    async listOrders(request, ctx) {
      const limit = pageSizeOf(request.pageSize);
      const beforeId = request.pageToken ? decodeIdCursor(request.pageToken) : undefined;
      const orders = await listOrdersOf(deps.db, callerOf(ctx).id, { status: statusFromProto.get(request.status), beforeId, limit: limit + 1 });
      const page = orders.slice(0, limit);
      return {
        orders: page.map(orderToProto),
        nextPageToken: orders.length > limit ? encodeIdCursor(page.at(-1)!.id) : "",
      };
    },

    cancelOrder: later.cancelOrder,
    watchOrders: later.watchOrders,
  };
}

/** The other services as checkout sees them for this call: the user's own cart, the service's identity for inventory. */
function portsFor(deps: OrderServiceDeps, ctx: HandlerContext): CheckoutPorts {
  const asService = async () => ({ ...forwardFrom(ctx), headers: { authorization: await deps.serviceToken.authorization() } });
  // Once stock is held the saga must finish whatever happens to the request: commit and
  // release get deadlines of their own, not what is left of the client's.
  const detached = async () => ({ timeoutMs: 5_000, headers: { authorization: await deps.serviceToken.authorization() } });
  return {
    async cartLines() {
      const { cart } = await deps.cart.getCart({}, forwardFrom(ctx));
      return (cart?.items ?? []).map((item) => ({ productId: item.productId, quantity: item.quantity }));
    },
    async products(ids) {
      const { products } = await deps.products.batchGetProducts({ ids }, forwardFrom(ctx));
      return products.map((p) => ({ productId: p.id, shopId: p.shopId, name: p.name, unitPriceMinor: p.price?.amountMinor ?? 0n, forSale: p.active }));
    },
    async reserve(reservationId, items) {
      await deps.inventory.reserveStock({ reservationId, items }, await asService());
    },
    async commit(reservationId) {
      await deps.inventory.commitReservation({ reservationId }, await detached());
    },
    async release(reservationId) {
      await deps.inventory.releaseReservation({ reservationId }, await detached());
    },
  };
}

function orderToProto(order: Order): MessageInitShape<typeof OrderSchema> {
  const money = (amountMinor: bigint) => ({ currencyCode: order.currencyCode, amountMinor });
  return {
    id: order.id,
    userId: order.userId,
    items: order.lines.map((line) => ({
      productId: line.productId,
      shopId: line.shopId,
      name: line.name,
      unitPrice: money(line.unitPriceMinor),
      quantity: line.quantity,
      lineTotal: money(line.lineTotalMinor),
    })),
    subtotal: money(order.subtotalMinor),
    tax: money(order.taxMinor),
    shippingCost: money(order.shippingMinor),
    total: money(order.totalMinor),
    shippingAddress: order.shippingAddress,
    status: statusToProto[order.status],
    payment: {
      method: order.payment.method === "CARD" ? ProtoPaymentMethod.CARD : ProtoPaymentMethod.CASH_ON_DELIVERY,
      status: paymentStatusToProto[order.payment.status],
      reference: order.payment.reference,
      failureReason: order.payment.failureReason,
    },
    statusHistory: order.history.map((change) => ({ status: statusToProto[change.status], time: timestampFromDate(change.time), note: change.note })),
    createTime: timestampFromDate(order.createTime),
    updateTime: timestampFromDate(order.updateTime),
  };
}
