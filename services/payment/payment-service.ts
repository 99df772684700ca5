// PaymentService: thin handlers over domain/manage-payments.ts; they check what the contract's
// validation cannot (positive amounts), and turn domain refusals into codes and reasons.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  PaymentStatus as ProtoStatus,
  WebhookOutcome,
  type PaymentSchema,
  type PaymentService,
  type RefundSchema,
  type TestCheckoutSchema,
  type TestCheckoutService,
} from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { reasonedError } from "../kit/error-info.ts";
import { idKeysetPage } from "../kit/pages.ts";
import {
  cancelPayment,
  capturePayment,
  createPayment,
  getPayment,
  listPaymentsPage,
  refundPayment,
  type PaymentDeps,
} from "./domain/manage-payments.ts";
import {
  IllegalPaymentStatusError,
  PaymentNotFoundError,
  PaymentOrderMismatchError,
  RefundCurrencyError,
  RefundExceedsCaptureError,
  RefundKeyReusedError,
  RefundRefusedError,
  type Payment,
  type PaymentStatus,
  type Refund,
} from "./domain/payment.ts";
import { ProviderUnavailableError, WebhookSignatureError } from "./domain/provider.ts";
import { callerOf } from "../kit/auth.ts";
import { handleWebhook, WebhookProviderNotFoundError } from "./domain/webhooks.ts";
import type { TestCheckout, TestProvider } from "./providers/test-provider.ts";

export function createPaymentService(deps: PaymentDeps): ServiceImpl<typeof PaymentService> {
  return {
    async createPayment(request, ctx) {
      const amount = positiveAmount(request.amount, "amount");
      const payment = await answering(() =>
        createPayment(deps, {
          orderId: request.orderId,
          ...amount,
          paymentMethodToken: request.paymentMethodToken,
          returnUrl: request.returnUrl,
          capture: request.capture,
          actorId: callerOf(ctx).id,
        }),
      );
      return { payment: paymentToProto(payment) };
    },
    async getPayment(request) {
      return { payment: paymentToProto(await answering(() => getPayment(deps, request.id))) };
    },
    async capturePayment(request, ctx) {
      return { payment: paymentToProto(await answering(() => capturePayment(deps, request.id, callerOf(ctx).id))) };
    },
    async cancelPayment(request, ctx) {
      return { payment: paymentToProto(await answering(() => cancelPayment(deps, request.id, callerOf(ctx).id))) };
    },
    async refundPayment(request, ctx) {
      const amount = positiveAmount(request.amount, "amount");
      const { refund, payment } = await answering(() =>
        refundPayment(deps, {
          paymentId: request.id,
          ...amount,
          refundKey: request.refundKey,
          actorId: callerOf(ctx).id,
        }),
      );
      return { refund: refundToProto(refund, payment.currencyCode), payment: paymentToProto(payment) };
    },
    async listPayments(request) {
      const status = request.status === ProtoStatus.UNSPECIFIED ? undefined : statusOf(request.status);
      const { rows, nextPageToken } = await idKeysetPage(
        request,
        ({ limit, beforeId }) =>
          listPaymentsPage(deps, {
            limit,
            ...(status ? { status } : {}),
            ...(request.orderId ? { orderId: request.orderId } : {}),
            ...(beforeId ? { beforeId } : {}),
          }),
        (payment) => payment.id,
      );
      return { payments: rows.map(paymentToProto), nextPageToken };
    },
    async handleWebhook(request) {
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]),
      );
      const answer = await answering(() =>
        handleWebhook(deps, { provider: request.provider, payload: Buffer.from(request.payload), headers }).catch(
          (error: unknown) => {
            if (!(error instanceof WebhookSignatureError)) throw error;
            throw reasonedError("WEBHOOK_SIGNATURE_INVALID", `the webhook signature is invalid: ${error.message}`, {
              provider: request.provider,
            });
          },
        ),
      );
      return { eventId: answer.eventId, outcome: WebhookOutcome[answer.outcome] };
    },
  };
}

/** The test provider's hosted page (bound only while the test provider is configured). */
export function createTestCheckoutService(provider: TestProvider): ServiceImpl<typeof TestCheckoutService> {
  return {
    async getTestCheckout(request) {
      return { checkout: checkoutToProto(await answering(() => provider.checkout(request.paymentId))) };
    },
    async confirmTestCheckout(request) {
      return {
        checkout: checkoutToProto(await answering(() => provider.confirm(request.paymentId, request.approve))),
      };
    },
  };
}

function checkoutToProto(checkout: TestCheckout): MessageInitShape<typeof TestCheckoutSchema> {
  return {
    paymentId: checkout.paymentId,
    amount: { currencyCode: checkout.currencyCode, amountMinor: checkout.amountMinor },
    status: ProtoStatus[checkout.status],
    returnUrl: checkout.returnUrl,
  };
}

/** Validation makes amount present; a zero or negative one is refused here, naming the field. */
function positiveAmount(
  amount: { currencyCode: string; amountMinor: bigint } | undefined,
  field: string,
): { currencyCode: string; amountMinor: bigint } {
  if (!amount || amount.amountMinor <= 0n) {
    throw new ConnectError(`${field}.amount_minor must be greater than 0`, Code.InvalidArgument);
  }
  return { currencyCode: amount.currencyCode, amountMinor: amount.amountMinor };
}

async function answering<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw connectErrorOf(error);
  }
}

function connectErrorOf(error: unknown): unknown {
  if (error instanceof PaymentNotFoundError) return new ConnectError(error.message, Code.NotFound);
  if (error instanceof WebhookProviderNotFoundError) return new ConnectError(error.message, Code.NotFound);

  if (error instanceof ProviderUnavailableError) {
    return new ConnectError("the payment provider is unavailable; try again", Code.Unavailable);
  }
  if (error instanceof PaymentOrderMismatchError) {
    return reasonedError("PAYMENT_ORDER_MISMATCH", error.message, {
      order_id: error.orderId,
      payment_id: error.paymentId,
    });
  }
  if (error instanceof IllegalPaymentStatusError) {
    return reasonedError("ILLEGAL_PAYMENT_STATUS", error.message, {
      payment_id: error.paymentId,
      status: `PAYMENT_STATUS_${error.status}`,
    });
  }
  if (error instanceof RefundExceedsCaptureError) {
    return reasonedError("REFUND_EXCEEDS_CAPTURE", error.message, {
      payment_id: error.paymentId,
      requested: String(error.requestedMinor),
      refundable: String(error.refundableMinor),
    });
  }
  if (error instanceof RefundKeyReusedError) {
    return reasonedError("REFUND_KEY_REUSED", error.message, {
      payment_id: error.paymentId,
      refund_key: error.refundKey,
    });
  }
  if (error instanceof RefundCurrencyError) return new ConnectError(error.message, Code.InvalidArgument);
  if (error instanceof RefundRefusedError) return new ConnectError(error.message, Code.FailedPrecondition);
  return error;
}

function statusOf(status: ProtoStatus): PaymentStatus {
  const name = Object.entries(ProtoStatus).find(([, value]) => value === status)?.[0];
  return name as PaymentStatus;
}

function paymentToProto(payment: Payment): MessageInitShape<typeof PaymentSchema> {
  const money = (amountMinor: bigint) => ({ currencyCode: payment.currencyCode, amountMinor });
  return {
    id: payment.id,
    orderId: payment.orderId,
    amount: money(payment.amountMinor),
    status: ProtoStatus[payment.status],
    provider: payment.provider,
    providerPaymentId: payment.providerPaymentId,
    ...(payment.nextAction ? { nextAction: payment.nextAction } : {}),
    failureReason: payment.failureReason,
    captured: money(payment.capturedMinor),
    refunded: money(payment.refundedMinor),
    createTime: timestampFromDate(payment.createTime),
    updateTime: timestampFromDate(payment.updateTime),
    refunds: payment.refunds.map((refund) => refundToProto(refund, payment.currencyCode)),
  };
}

function refundToProto(refund: Refund, currencyCode: string): MessageInitShape<typeof RefundSchema> {
  return {
    id: refund.id,
    refundKey: refund.refundKey,
    amount: { currencyCode, amountMinor: refund.amountMinor },
    providerRefundId: refund.providerRefundId,
    createTime: timestampFromDate(refund.createTime),
  };
}
