// The reasons Bazaar's errors carry in google.rpc.ErrorInfo (domain "bazaar"), so a client can
// branch on a stable name instead of parsing a message. This is the one list: handlers and the
// edge build errors from it (error-info.ts), the OpenAPI document describes it, and each RPC's
// comment in proto/ names the reasons that RPC may answer. A reason always comes with the same
// code and the same metadata keys, so adding a key is a contract change like adding a field.
// Free of generated code on purpose: the OpenAPI generator reads it while gen/ is rewritten.
import { Code } from "@connectrpc/connect";

export const errorDomain = "bazaar";

export interface ReasonSpec {
  /** The code every error with this reason has. */
  code: Code;
  /** Keys of ErrorInfo.metadata, always all present. */
  metadata: readonly string[];
  /** What happened and what a client can do, for the API's documentation. */
  meaning: string;
  /**
   * Answered by any RPC (refusals of the edge and of every service's auth hook), so RPC
   * comments do not repeat it.
   */
  anyRpc?: true;
}

export const errorReasons = {
  OUT_OF_STOCK: {
    code: Code.FailedPrecondition,
    metadata: ["product_id", "product_ids", "requested", "available"],
    meaning:
      "Too few units are available. `product_id` is the first short product, with the units `requested` and " +
      "`available` now; `product_ids` lists every short product, comma-separated (a google.rpc.PreconditionFailure " +
      "detail gives the figures of each).",
  },
  PRODUCT_UNAVAILABLE: {
    code: Code.FailedPrecondition,
    metadata: ["product_id", "product_ids"],
    meaning:
      "A product is not for sale (deleted, deactivated, its shop suspended, or unknown). `product_id` is the " +
      "first such product; " +
      "`product_ids` lists them all, comma-separated. Remove them and try again.",
  },
  CART_EMPTY: {
    code: Code.FailedPrecondition,
    metadata: [],
    meaning: "The cart holds nothing to check out.",
  },
  CART_LIMIT_REACHED: {
    code: Code.FailedPrecondition,
    metadata: ["limit", "max"],
    meaning:
      "The cart would exceed a limit: `limit` is `lines` (different products per cart) or `quantity_per_line` " +
      "(units of one product), and `max` its value.",
  },
  IDEMPOTENCY_KEY_REUSED: {
    code: Code.InvalidArgument,
    metadata: ["idempotency_key", "order_id"],
    meaning:
      "The idempotency key was already used for a checkout with another shipping address or payment; " +
      "`order_id` is the order that key made. Use a new key for a new checkout.",
  },
  RESERVATION_RELEASED: {
    code: Code.FailedPrecondition,
    metadata: ["reservation_id", "status"],
    meaning:
      "The stock hold of this checkout was already given back (`status`: `RELEASED`, `EXPIRED` or `RETURNED`), " +
      "for instance because the order was cancelled meanwhile; `reservation_id` is the order's id. Check out again.",
  },
  RESERVATION_COMMITTED: {
    code: Code.FailedPrecondition,
    metadata: ["reservation_id"],
    meaning: "The stock hold was already sold and cannot be released; return it instead.",
  },
  ILLEGAL_STATUS_TRANSITION: {
    code: Code.FailedPrecondition,
    metadata: ["order_id", "shop_order_id", "from", "to"],
    meaning:
      "The order cannot move from its status `from` to the status `to` (both `OrderStatus` value names, " +
      "e.g. `ORDER_STATUS_SHIPPED`). When a shop order could not move, `shop_order_id` names it, `order_id` is " +
      "its order, and `from` and `to` are `ShopOrderStatus` value names (e.g. `SHOP_ORDER_STATUS_CONFIRMED`); " +
      "otherwise `shop_order_id` is empty.",
  },
  STOCK_BELOW_HELD: {
    code: Code.FailedPrecondition,
    metadata: ["product_id", "stock_on_hand", "held"],
    meaning: "The stock on hand asked for is below the units `held` by open orders; set at least `held`.",
  },
  CATEGORY_IN_USE: {
    code: Code.FailedPrecondition,
    metadata: ["category_id", "product_count", "child_count"],
    meaning:
      "The category cannot be deleted while it has products (`product_count`, deleted ones included) or child " +
      "categories (`child_count`): give `move_products_to` to move its products, and move or delete its children first.",
  },
  SHOP_NOT_OWNED: {
    code: Code.PermissionDenied,
    metadata: ["shop_id"],
    meaning:
      "The shop `shop_id` exists but belongs to another seller: a seller lists and watches the orders, and reads " +
      "the sales report, of their own shops only. Pick one of the caller's shops.",
  },
  EMAIL_TAKEN: {
    code: Code.AlreadyExists,
    metadata: [],
    meaning: "An account with this e-mail address exists; sign in instead.",
  },
  SLUG_TAKEN: {
    code: Code.AlreadyExists,
    metadata: ["slug"],
    meaning: "Another category has this `slug`; choose another.",
  },
  INVALID_CREDENTIALS: {
    code: Code.Unauthenticated,
    metadata: [],
    meaning: "The e-mail or password is wrong (or the account is deactivated). Ask again; do not refresh tokens.",
  },
  RESET_TOKEN_INVALID: {
    code: Code.FailedPrecondition,
    metadata: [],
    meaning: "The password-reset token is unknown, expired or already used: ask for a new link.",
  },
  VERIFICATION_TOKEN_INVALID: {
    code: Code.FailedPrecondition,
    metadata: [],
    meaning: "The e-mail verification token is unknown, expired or already used: ask for a new link.",
  },
  EMAIL_NOT_VERIFIED: {
    code: Code.FailedPrecondition,
    metadata: [],
    meaning:
      "This deployment requires a verified e-mail for checkout: confirm it (AuthService.RequestEmailVerification), then sign in again or refresh.",
  },
  REFRESH_TOKEN_INVALID: {
    code: Code.Unauthenticated,
    metadata: [],
    meaning: "The refresh token is unknown, expired, revoked or already used: sign in again.",
  },
  SIGN_IN_REQUIRED: {
    code: Code.Unauthenticated,
    metadata: [],
    meaning: "The call needs an access token and came without one (only operations that need a token).",
    anyRpc: true,
  },
  USER_OWNS_SHOPS: {
    code: Code.FailedPrecondition,
    metadata: ["user_id", "shop_id"],
    meaning:
      "The user to be erased owns shops (`shop_id` is one of them). A shop is a business record the " +
      "marketplace keeps, so its seller cannot be erased while it is theirs.",
  },
  TOKEN_EXPIRED: {
    code: Code.Unauthenticated,
    metadata: [],
    meaning: "The access token has expired: get a new one with the refresh token and call again.",
    anyRpc: true,
  },
  TOKEN_INVALID: {
    code: Code.Unauthenticated,
    metadata: [],
    meaning: "The access token is malformed, forged or not for Bazaar: sign in again.",
    anyRpc: true,
  },
  ACCOUNT_DEACTIVATED: {
    code: Code.Unauthenticated,
    metadata: [],
    meaning: "An admin deactivated the account; its tokens are refused.",
    anyRpc: true,
  },
  RATE_LIMITED: {
    code: Code.ResourceExhausted,
    metadata: ["retry_after_seconds", "scope"],
    meaning:
      "Too many requests: wait `retry_after_seconds` (also in google.rpc.RetryInfo and the Retry-After header) " +
      "before trying again. `scope` is what was limited: `client_address`, `user`, `sign_in` or `account_mail` (password-reset and verification mails).",
    anyRpc: true,
  },
  PAYMENT_ORDER_MISMATCH: {
    code: Code.FailedPrecondition,
    metadata: ["order_id", "payment_id"],
    meaning:
      "The order already has payment `payment_id` with another amount or currency; one order has one payment. " +
      "Internal (PaymentService).",
  },
  WEBHOOK_SIGNATURE_INVALID: {
    code: Code.InvalidArgument,
    metadata: ["provider"],
    meaning:
      "A webhook's signature is forged, stale (timestamp outside the provider's tolerance) or unreadable; " +
      "nothing was stored. The provider should sign it again with the current secret. POST /v1/webhooks/{provider}.",
  },
  ILLEGAL_PAYMENT_STATUS: {
    code: Code.FailedPrecondition,
    metadata: ["payment_id", "status"],
    meaning:
      "The payment's `status` (a PaymentStatus value name) does not allow this: only AUTHORIZED is captured, " +
      "only REQUIRES_ACTION or AUTHORIZED cancelled (PROCESSING is not), only captured payments refunded, only a " +
      "REQUIRES_ACTION payment confirmed on the test checkout page. From PaymentService, and from " +
      "AdminService.RefundPayment.",
  },
  REFUND_EXCEEDS_CAPTURE: {
    code: Code.FailedPrecondition,
    metadata: ["payment_id", "requested", "refundable"],
    meaning:
      "The refund would give back more than was captured: `requested` minor units asked, `refundable` left. " +
      "From PaymentService, and from AdminService.RefundPayment.",
  },
  REFUND_KEY_REUSED: {
    code: Code.FailedPrecondition,
    metadata: ["payment_id", "refund_key"],
    meaning:
      "The refund key was already used for a refund of another amount or payment. From PaymentService, and from " +
      "AdminService.RefundPayment (whose keys carry the prefix `admin:`).",
  },
  NOTIFICATION_PREFERENCE_REQUIRED: {
    code: Code.FailedPrecondition,
    metadata: ["kind", "channel"],
    meaning:
      "The preference cannot be switched off: transactional e-mails about money or security (order confirmation, " +
      "payment failed, refunds, password reset, e-mail verification) are always sent. `kind` and `channel` are " +
      "the NotificationKind and NotificationChannel value names. From NotificationService.UpdateNotificationPreferences.",
  },
  IMAGE_TOO_LARGE: {
    code: Code.InvalidArgument,
    metadata: ["size_bytes", "max_size_bytes"],
    meaning:
      "The picture has `size_bytes`, more than the `max_size_bytes` this deployment takes. From " +
      "MediaService.CreateImageUpload (the size asked for) and ConfirmImageUpload (the size stored).",
  },
  IMAGE_TYPE_NOT_ALLOWED: {
    code: Code.InvalidArgument,
    metadata: ["detected_type"],
    meaning:
      "The uploaded bytes are not the picture type the upload was made for (JPEG, PNG, WebP and AVIF are taken); " +
      "`detected_type` is what they are, `unknown` if nothing known. The file was deleted. From " +
      "MediaService.ConfirmImageUpload.",
  },
  IMAGE_DIMENSIONS_TOO_LARGE: {
    code: Code.InvalidArgument,
    metadata: ["width", "height", "max_pixels"],
    meaning:
      "The picture has more pixels than `max_pixels` (a decompression bomb is refused before it is decoded). " +
      "The file was deleted. From MediaService.ConfirmImageUpload.",
  },
  IMAGE_UNREADABLE: {
    code: Code.InvalidArgument,
    metadata: [],
    meaning:
      "The bytes start like a picture but cannot be read as one (truncated or corrupt). The file was deleted. " +
      "From MediaService.ConfirmImageUpload.",
  },
  UPLOAD_NOT_FOUND: {
    code: Code.NotFound,
    metadata: ["upload_id"],
    meaning:
      "No upload can be confirmed under this id: unknown, expired, refused before, or nothing was PUT to its URL " +
      "yet. Start a new upload (or PUT the file first). From MediaService.ConfirmImageUpload.",
  },
  GALLERY_FULL: {
    code: Code.FailedPrecondition,
    metadata: ["product_id", "max_images"],
    meaning:
      "The product's gallery holds `max_images` pictures already; delete one first. From " +
      "MediaService.CreateImageUpload.",
  },
  REQUEST_TOO_LARGE: {
    code: Code.ResourceExhausted,
    metadata: ["limit_bytes"],
    meaning: "The request body exceeds the method's limit of `limit_bytes`; retrying the same request cannot help.",
    anyRpc: true,
  },
} as const satisfies Record<string, ReasonSpec>;

export type ErrorReason = keyof typeof errorReasons;

/** The metadata an error with `reason` carries: every key of its spec, each a string. */
export type ReasonMetadata<R extends ErrorReason> = Record<(typeof errorReasons)[R]["metadata"][number], string>;
