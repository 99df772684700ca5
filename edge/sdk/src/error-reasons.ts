// The reasons Bazaar's errors carry in google.rpc.ErrorInfo (domain "bazaar"), as typed
// constants, so an app branches on a name instead of parsing a message. A copy of the services'
// list (services/kit/error-reasons.ts), not an import of it: the SDK ships without service code.
// error-reasons.test.ts fails when the two differ.
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.ts";

export const errorDomain = "bazaar";

/** Each reason with the code it always comes with and the ErrorInfo.metadata keys it always has. */
export const errorReasons = {
  OUT_OF_STOCK: { code: Code.FailedPrecondition, metadata: ["product_id", "product_ids", "requested", "available"] },
  PRODUCT_UNAVAILABLE: { code: Code.FailedPrecondition, metadata: ["product_id", "product_ids"] },
  CART_EMPTY: { code: Code.FailedPrecondition, metadata: [] },
  CART_LIMIT_REACHED: { code: Code.FailedPrecondition, metadata: ["limit", "max"] },
  IDEMPOTENCY_KEY_REUSED: { code: Code.InvalidArgument, metadata: ["idempotency_key", "order_id"] },
  RESERVATION_RELEASED: { code: Code.FailedPrecondition, metadata: ["reservation_id", "status"] },
  RESERVATION_COMMITTED: { code: Code.FailedPrecondition, metadata: ["reservation_id"] },
  ILLEGAL_STATUS_TRANSITION: { code: Code.FailedPrecondition, metadata: ["order_id", "shop_order_id", "from", "to"] },
  STOCK_BELOW_HELD: { code: Code.FailedPrecondition, metadata: ["product_id", "stock_on_hand", "held"] },
  CATEGORY_IN_USE: { code: Code.FailedPrecondition, metadata: ["category_id", "product_count", "child_count"] },
  SHOP_NOT_OWNED: { code: Code.PermissionDenied, metadata: ["shop_id"] },
  EMAIL_TAKEN: { code: Code.AlreadyExists, metadata: [] },
  SLUG_TAKEN: { code: Code.AlreadyExists, metadata: ["slug"] },
  INVALID_CREDENTIALS: { code: Code.Unauthenticated, metadata: [] },
  RESET_TOKEN_INVALID: { code: Code.FailedPrecondition, metadata: [] },
  VERIFICATION_TOKEN_INVALID: { code: Code.FailedPrecondition, metadata: [] },
  EMAIL_NOT_VERIFIED: { code: Code.FailedPrecondition, metadata: [] },
  REFRESH_TOKEN_INVALID: { code: Code.Unauthenticated, metadata: [] },
  SIGN_IN_REQUIRED: { code: Code.Unauthenticated, metadata: [] },
  USER_OWNS_SHOPS: { code: Code.FailedPrecondition, metadata: ["user_id", "shop_id"] },
  TOKEN_EXPIRED: { code: Code.Unauthenticated, metadata: [] },
  TOKEN_INVALID: { code: Code.Unauthenticated, metadata: [] },
  ACCOUNT_DEACTIVATED: { code: Code.Unauthenticated, metadata: [] },
  RATE_LIMITED: { code: Code.ResourceExhausted, metadata: ["retry_after_seconds", "scope"] },
  PAYMENT_ORDER_MISMATCH: { code: Code.FailedPrecondition, metadata: ["order_id", "payment_id"] },
  WEBHOOK_SIGNATURE_INVALID: { code: Code.InvalidArgument, metadata: ["provider"] },
  ILLEGAL_PAYMENT_STATUS: { code: Code.FailedPrecondition, metadata: ["payment_id", "status"] },
  REFUND_EXCEEDS_CAPTURE: { code: Code.FailedPrecondition, metadata: ["payment_id", "requested", "refundable"] },
  REFUND_KEY_REUSED: { code: Code.FailedPrecondition, metadata: ["payment_id", "refund_key"] },
  NOTIFICATION_PREFERENCE_REQUIRED: { code: Code.FailedPrecondition, metadata: ["kind", "channel"] },
  IMAGE_TOO_LARGE: { code: Code.InvalidArgument, metadata: ["size_bytes", "max_size_bytes"] },
  IMAGE_TYPE_NOT_ALLOWED: { code: Code.InvalidArgument, metadata: ["detected_type"] },
  IMAGE_DIMENSIONS_TOO_LARGE: { code: Code.InvalidArgument, metadata: ["width", "height", "max_pixels"] },
  IMAGE_UNREADABLE: { code: Code.InvalidArgument, metadata: [] },
  UPLOAD_NOT_FOUND: { code: Code.NotFound, metadata: ["upload_id"] },
  GALLERY_FULL: { code: Code.FailedPrecondition, metadata: ["product_id", "max_images"] },
  REQUEST_TOO_LARGE: { code: Code.ResourceExhausted, metadata: ["limit_bytes"] },
} as const satisfies Record<string, { code: Code; metadata: readonly string[] }>;

export type ErrorReason = keyof typeof errorReasons;

/** The reason names themselves: `ErrorReason.OUT_OF_STOCK === "OUT_OF_STOCK"`. */
export const ErrorReason = Object.freeze(
  Object.fromEntries(Object.keys(errorReasons).map((name) => [name, name])) as { [R in ErrorReason]: R },
);

/** The metadata an error with `reason` carries: every key of its spec, each a string. */
export type ReasonMetadata<R extends ErrorReason> = Record<(typeof errorReasons)[R]["metadata"][number], string>;

export interface ReasonedError<R extends ErrorReason = ErrorReason> {
  reason: R;
  code: Code;
  message: string;
  metadata: ReasonMetadata<R>;
}

/**
 * The Bazaar reason of a failure, with its metadata: from the google.rpc.ErrorInfo detail of a
 * ConnectError (any protocol the edge speaks carries it). Undefined for other errors and for
 * reasons of another domain.
 */
export function errorInfoOf(error: unknown): ReasonedError | undefined {
  if (!(error instanceof ConnectError)) return undefined;
  const info = error.findDetails(ErrorInfoSchema).find((detail) => detail.domain === errorDomain);
  if (!info || !(info.reason in errorReasons)) return undefined;
  return {
    reason: info.reason as ErrorReason,
    code: error.code,
    message: error.rawMessage,
    metadata: info.metadata as ReasonMetadata<ErrorReason>,
  };
}

/** True when `error` is a ConnectError carrying `reason`. */
export function hasReason<R extends ErrorReason>(error: unknown, reason: R): error is ConnectError {
  return errorInfoOf(error)?.reason === reason;
}

/** The metadata of `error` when it carries `reason`, else undefined. */
export function reasonMetadata<R extends ErrorReason>(error: unknown, reason: R): ReasonMetadata<R> | undefined {
  const info = errorInfoOf(error);
  return info?.reason === reason ? (info.metadata as ReasonMetadata<R>) : undefined;
}
