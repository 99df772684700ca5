// AdminService: for ROLE_ADMIN only, but for GetShopSalesReport which a shop's seller reads too
// (access-rules.ts). User operations go to auth's
// UserDirectoryService, order operations to OrderAdminService, shop moderation and category
// editing to product's ShopAdminService and CategoryAdminService, payments and refunds to
// payment's PaymentService, under the admin service's own identity; EraseUser to auth and order in turn (domain/erase-user.ts); each change is recorded
// as an AdminActionPerformed event naming the admin. Audit and sales figures come from this
// service's projections of the event stream.
import { toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Kysely, Transaction } from "kysely";
import {
  type AdminService,
  DeleteCategoryRequestSchema,
  RedriveDeadLetterRequestSchema,
  SetUserActiveRequestSchema,
  ReactivateShopRequestSchema,
  RefundPaymentRequestSchema,
  SetUserRoleRequestSchema,
  SuspendShopRequestSchema,
  UpdateCategoryRequestSchema,
  UpdateOrderStatusRequestSchema,
} from "../../gen/bazaar/admin/v1/admin_pb.ts";
import type { UserDirectoryService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import type { DeadLetter, DeadLetterService } from "../../gen/bazaar/events/v1/dead_letters_pb.ts";
import { OrderStatus, OrderStatusSchema, type OrderAdminService } from "../../gen/bazaar/order/v1/order_pb.ts";
import type { PaymentService } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import type { CategoryAdminService, ShopAdminService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { callerOf } from "../kit/auth.ts";
import { forwardFrom } from "../kit/clients.ts";
import { reasonedError } from "../kit/error-info.ts";
import { inTransaction } from "../kit/db.ts";
import { appendEvent } from "../kit/events.ts";
import type { ServiceName } from "../kit/config.ts";
import type { ServiceTokenSource } from "../kit/identity.ts";
import type { OutboxNotifier } from "../kit/lifecycle.ts";
import type { ShopOwners } from "../kit/shop-owners.ts";
import { idKeysetPage, idPageToken, pageSizeOf } from "../kit/pages.ts";
import { mayReadShopSales } from "./access-rules.ts";
import { recordAuditedRefund } from "./db/audited-refunds.repository.ts";
import type { AdminDatabase } from "./db/database.ts";
import { markErasureComplete } from "./db/erasures.repository.ts";
import { listAuditEvents } from "./db/projections.repository.ts";
import { startErasure } from "./domain/erase-user.ts";
import { paymentRefundKey } from "./domain/refund-keys.ts";
import { ReportRangeError, type SalesReport, salesReport } from "./domain/sales-report.ts";
import {
  type ShopReportRange,
  ShopReportRangeError,
  shopReportRange,
  shopSalesReport,
} from "./domain/shop-sales-report.ts";
import { toProtoShopOrderStatus } from "./domain/shop-sales.ts";

export interface AdminServiceDeps {
  db: Kysely<AdminDatabase>;
  /** Every service's dead letters, by service name. */
  deadLetters: Record<ServiceName, Client<typeof DeadLetterService>>;
  outbox: OutboxNotifier;
  directory: Client<typeof UserDirectoryService>;
  orders: Client<typeof OrderAdminService>;
  shops: Client<typeof ShopAdminService>;
  /** Who owns a shop, from product's public shop reads (remembered a minute). */
  shopOwners: ShopOwners;
  categories: Client<typeof CategoryAdminService>;
  payments: Client<typeof PaymentService>;
  serviceToken: ServiceTokenSource;
  currencyCode: string;
}

const orderStatusNamed = new Map(OrderStatusSchema.values.map((v) => [v.localName, v.number as OrderStatus]));

export function createAdminService(deps: AdminServiceDeps): ServiceImpl<typeof AdminService> {
  const asAdminService = async (ctx: HandlerContext) =>
    forwardFrom(ctx, { headers: { authorization: await deps.serviceToken.authorization() } });
  /**
   * Records an admin's change in the audit trail, as an event of its own; with `firstTime`, only
   * when that says (in the same transaction) the change was not audited before.
   */
  const audit = async <S extends DescMessage>(
    ctx: HandlerContext,
    action: string,
    targetType: "user" | "order" | "dead_letter" | "shop" | "category" | "payment",
    schema: S,
    request: MessageShape<S>,
    targetId: string = (request as { id?: string }).id ?? "",
    firstTime?: (trx: Transaction<AdminDatabase>) => Promise<boolean>,
  ) => {
    const actorId = callerOf(ctx).id;
    const audited = await inTransaction(deps.db, async (trx) => {
      if (firstTime && !(await firstTime(trx))) return false;
      await appendEvent(trx, {
        source: "admin",
        actorId,
        subjectId: targetId,
        payload: {
          case: "adminActionPerformed",
          value: { action, targetType, targetId, detailsJson: toJsonString(schema, request) },
        },
      });
      return true;
    });
    if (audited) deps.outbox.wake();
  };

  return {
    async listUsers(request, ctx) {
      const { users, nextPageToken } = await deps.directory.listUsers(
        {
          role: request.role,
          active: request.active,
          query: request.query,
          pageSize: request.pageSize,
          pageToken: request.pageToken,
        },
        await asAdminService(ctx),
      );
      return { users, nextPageToken };
    },

    async getUser(request, ctx) {
      const { user } = await deps.directory.getUser({ id: request.id }, await asAdminService(ctx));
      return { user };
    },

    async setUserRole(request, ctx) {
      refuseOwnAccount(ctx, request.id, "change their own role");
      const { user } = await deps.directory.setUserRole(
        { id: request.id, role: request.role },
        await asAdminService(ctx),
      );
      await audit(ctx, "SetUserRole", "user", SetUserRoleRequestSchema, request);
      return { user };
    },

    async setUserActive(request, ctx) {
      refuseOwnAccount(ctx, request.id, "deactivate or reactivate their own account");
      const { user } = await deps.directory.setUserActive(
        { id: request.id, active: request.active },
        await asAdminService(ctx),
      );
      await audit(ctx, "SetUserActive", "user", SetUserActiveRequestSchema, request);
      return { user };
    },

    async eraseUser(request, ctx) {
      refuseOwnAccount(ctx, request.id, "erase their own account");
      const reason = request.reason.trim();
      if (!reason) throw new ConnectError("reason: must not be blank", Code.InvalidArgument);
      const options = await asAdminService(ctx);
      await deps.directory.getUser({ id: request.id }, options); // NOT_FOUND for an unknown user
      // A shop's records belong to the marketplace and name its seller: a seller with shops stays.
      const { shops } = await deps.shops.listAllShops({ sellerId: request.id, pageSize: 1 }, options);
      if (shops[0])
        throw reasonedError("USER_OWNS_SHOPS", `user ${request.id} owns shops and cannot be erased`, {
          user_id: request.id,
          shop_id: shops[0].id,
        });
      const adminId = callerOf(ctx).id;
      if (await startErasure(deps.db, adminId, { ...request, reason })) deps.outbox.wake();
      // Each call below is idempotent; a failure answers its code (UNAVAILABLE) and a retry goes on.
      // Auth first: the account is locked (its tokens refused mesh-wide within a second) before
      // the orders are scrubbed, so new orders stop coming in behind the scrub.
      const { user } = await deps.directory.eraseUser({ id: request.id, actorId: adminId }, options);
      await deps.orders.eraseBuyerData({ userId: request.id }, options);
      await markErasureComplete(deps.db, request.id);
      return { user };
    },

    async listOrders(request, ctx) {
      const { orders, nextPageToken } = await deps.orders.listAllOrders(
        {
          status: request.status,
          userId: request.userId,
          createTimeFrom: request.createTimeFrom,
          createTimeTo: request.createTimeTo,
          pageSize: request.pageSize,
          pageToken: request.pageToken,
        },
        await asAdminService(ctx),
      );
      return { orders, nextPageToken };
    },

    async updateOrderStatus(request, ctx) {
      const note = request.note || `set by an admin`;
      const { order } = await deps.orders.updateOrderStatus(
        { id: request.id, status: request.status, note },
        await asAdminService(ctx),
      );
      await audit(ctx, "UpdateOrderStatus", "order", UpdateOrderStatusRequestSchema, request);
      return { order };
    },

    async listAuditEvents(request) {
      const { rows, nextPageToken } = await idKeysetPage(
        request,
        (keyset) =>
          listAuditEvents(deps.db, {
            eventType: request.eventType || undefined,
            actorId: request.actorId || undefined,
            subjectId: request.subjectId || undefined,
            from: request.fromTime && timestampDate(request.fromTime),
            before: request.toTime && timestampDate(request.toTime),
            ...keyset,
          }),
        (row) => row.id,
      );
      return {
        events: rows.map((row) => ({
          id: row.id,
          eventType: row.event_type,
          source: row.source,
          actorId: row.actor_id,
          subjectId: row.subject_id,
          occurTime: timestampFromDate(row.occur_time),
          summary: row.summary,
          payloadJson: row.payload_json,
        })),
        nextPageToken,
      };
    },

    async getSalesReport(request) {
      let report: SalesReport;
      try {
        report = await salesReport(deps.db, timestampDate(request.fromTime!), timestampDate(request.toTime!));
      } catch (error) {
        if (error instanceof ReportRangeError) throw new ConnectError(error.message, Code.InvalidArgument);
        throw error;
      }
      const money = (amountMinor: bigint) => ({ currencyCode: deps.currencyCode, amountMinor });
      return {
        revenueByDay: report.revenueByDay.map((d) => ({
          day: d.day,
          revenue: money(d.revenueMinor),
          orderCount: d.orders,
        })),
        ordersByStatus: report.ordersByStatus.map((s) => ({
          status: orderStatusNamed.get(s.status) ?? OrderStatus.UNSPECIFIED,
          count: s.orders,
        })),
        topProducts: report.topProducts.map((p) => ({
          productId: p.productId,
          name: p.name,
          quantity: p.quantity,
          revenue: money(p.revenueMinor),
        })),
        newUsersByDay: report.newUsersByDay.map((d) => ({ day: d.day, count: d.users })),
        totalRevenue: money(report.totalRevenueMinor),
      };
    },

    async getShopSalesReport(request, ctx) {
      // Ownership first, so another seller learns nothing of the shop's sales, not even a bad range.
      const sellerId = await deps.shopOwners.ownerOf(request.shopId, await asAdminService(ctx));
      if (sellerId === undefined) throw new ConnectError(`shop ${request.shopId} not found`, Code.NotFound);
      if (!mayReadShopSales(callerOf(ctx), sellerId))
        throw reasonedError("SHOP_NOT_OWNED", `shop ${request.shopId} is another seller's`, {
          shop_id: request.shopId,
        });
      let range: ShopReportRange;
      try {
        range = shopReportRange(request.fromDate, request.toDate, new Date());
      } catch (error) {
        if (error instanceof ShopReportRangeError) throw new ConnectError(error.message, Code.InvalidArgument);
        throw error;
      }
      const report = await shopSalesReport(deps.db, request.shopId, range);
      const money = (amountMinor: bigint) => ({ currencyCode: deps.currencyCode, amountMinor });
      return {
        shopId: request.shopId,
        fromDate: range.fromDate,
        toDate: range.toDate,
        days: report.days.map((d) => ({
          day: d.day,
          revenue: money(d.revenueMinor),
          units: d.units,
          orderCount: d.orders,
        })),
        topProducts: report.topProducts.map((p) => ({
          productId: p.productId,
          name: p.name,
          quantity: p.quantity,
          revenue: money(p.revenueMinor),
        })),
        shopOrdersByStatus: report.byStatus.map((s) => ({
          status: toProtoShopOrderStatus[s.status],
          count: s.shopOrders,
        })),
        totalRevenue: money(report.totalRevenueMinor),
        totalUnits: report.totalUnits,
        totalOrders: report.totalOrders,
        placedShopOrders: report.placedShopOrders,
        cancelledShopOrders: report.cancelledShopOrders,
        cancellationRate: report.cancellationRate,
      };
    },

    async listDeadLetters(request, ctx) {
      const limit = pageSizeOf(request.pageSize);
      const beforeId = request.pageToken ? idPageToken.decode(request.pageToken).id : "";
      const services = (Object.keys(deps.deadLetters) as ServiceName[]).filter(
        (name) => !request.service || name === request.service,
      );
      const options = await asAdminService(ctx);
      // Ids are time-ordered across services, so the newest of each service's newest merge into one keyset page.
      const pages = await Promise.all(
        services.map(async (service) => {
          const { deadLetters } = await deps.deadLetters[service].listDeadLetters(
            { pageSize: limit + 1, beforeId },
            options,
          );
          return deadLetters.map((letter) => ({ service, letter }));
        }),
      );
      const merged = pages.flat().sort((a, b) => (a.letter.id < b.letter.id ? 1 : -1));
      const page = merged.slice(0, limit);
      return {
        deadLetters: page.map(({ service, letter }) => deadLetterToProto(service, letter)),
        nextPageToken: merged.length > limit ? idPageToken.encode({ id: page.at(-1)!.letter.id }) : "",
      };
    },

    async redriveDeadLetter(request, ctx) {
      const options = await asAdminService(ctx);
      // The id says nothing of its service: the one that has it answers, the others say NOT_FOUND.
      for (const service of Object.keys(deps.deadLetters) as ServiceName[]) {
        try {
          const { deadLetter } = await deps.deadLetters[service].redriveDeadLetter({ id: request.id }, options);
          await audit(ctx, "RedriveDeadLetter", "dead_letter", RedriveDeadLetterRequestSchema, request);
          return { deadLetter: deadLetterToProto(service, deadLetter!) };
        } catch (error) {
          if (ConnectError.from(error).code !== Code.NotFound) throw error;
        }
      }
      throw new ConnectError(`dead letter ${request.id} not found`, Code.NotFound);
    },

    async listShops(request, ctx) {
      const { shops, nextPageToken } = await deps.shops.listAllShops(
        {
          status: request.status,
          sellerId: request.sellerId,
          query: request.query,
          pageSize: request.pageSize,
          pageToken: request.pageToken,
        },
        await asAdminService(ctx),
      );
      return { shops, nextPageToken };
    },

    async suspendShop(request, ctx) {
      const reason = request.reason.trim();
      if (!reason) throw new ConnectError("reason: must not be blank", Code.InvalidArgument);
      const { shop, changed } = await deps.shops.suspendShop(
        { id: request.id, reason, actorId: callerOf(ctx).id },
        await asAdminService(ctx),
      );
      // Asking again for a suspension already in force is not an action of its own.
      if (changed) await audit(ctx, "SuspendShop", "shop", SuspendShopRequestSchema, request);
      return { shop };
    },

    async reactivateShop(request, ctx) {
      const { shop, changed } = await deps.shops.reactivateShop(
        { id: request.id, actorId: callerOf(ctx).id },
        await asAdminService(ctx),
      );
      if (changed) await audit(ctx, "ReactivateShop", "shop", ReactivateShopRequestSchema, request);
      return { shop };
    },

    async updateCategory(request, ctx) {
      const { category } = await deps.categories.updateCategory(
        { category: request.category, updateMask: request.updateMask },
        await asAdminService(ctx),
      );
      await audit(ctx, "UpdateCategory", "category", UpdateCategoryRequestSchema, request, category!.id);
      return { category };
    },

    async deleteCategory(request, ctx) {
      const { movedProductCount } = await deps.categories.deleteCategory(
        { id: request.id, moveProductsTo: request.moveProductsTo },
        await asAdminService(ctx),
      );
      await audit(ctx, "DeleteCategory", "category", DeleteCategoryRequestSchema, request);
      return { movedProductCount };
    },

    async listPayments(request, ctx) {
      const { payments, nextPageToken } = await deps.payments.listPayments(
        {
          status: request.status,
          orderId: request.orderId,
          pageSize: request.pageSize,
          pageToken: request.pageToken,
        },
        await asAdminService(ctx),
      );
      return { payments, nextPageToken };
    },

    async refundPayment(request, ctx) {
      const reason = request.reason.trim();
      if (!reason) throw new ConnectError("reason: must not be blank", Code.InvalidArgument);
      const amount = request.amount!;
      const refundKey = paymentRefundKey({
        paymentId: request.id,
        currencyCode: amount.currencyCode,
        amountMinor: amount.amountMinor,
        reason,
        refundKey: request.refundKey,
      });
      // The payment service's refusals (REFUND_EXCEEDS_CAPTURE, ILLEGAL_PAYMENT_STATUS,
      // REFUND_KEY_REUSED, NOT_FOUND) pass through with their codes and reasons; nothing is audited.
      const { refund, payment } = await deps.payments.refundPayment(
        { id: request.id, amount, refundKey },
        await asAdminService(ctx),
      );
      // A repeat is answered the first refund: audited once, keyed by the refund's id. A crash
      // between the refund and its audit is healed by the retry, which audits it then.
      await audit(
        ctx,
        "RefundPayment",
        "payment",
        RefundPaymentRequestSchema,
        { ...request, reason, refundKey },
        request.id,
        (trx) => recordAuditedRefund(trx, { refundId: refund!.id, paymentId: request.id }),
      );
      return { refund, payment };
    },
  };
}

function deadLetterToProto(service: ServiceName, letter: DeadLetter) {
  return {
    id: letter.id,
    service,
    consumer: letter.consumer,
    eventId: letter.eventId,
    subject: letter.subject,
    error: letter.error,
    attempts: letter.attempts,
    createTime: letter.createTime,
    redriveTime: letter.redriveTime,
  };
}

/** An admin locking themselves out (or promoting themselves back) is refused. */
function refuseOwnAccount(ctx: HandlerContext, userId: string, what: string): void {
  if (callerOf(ctx).id === userId) throw new ConnectError(`id: an admin cannot ${what}`, Code.FailedPrecondition);
}
