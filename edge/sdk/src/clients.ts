// One object for an app: a typed client of every public service of the edge, signed in through
// the session, with retries of side-effect-free calls. Only the services the edge routes are
// here (edge/app.ts): the internal ones (InventoryService, OrderAdminService, PaymentService, …)
// answer 404 at the edge whatever a client tries.
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AdminService } from "../../../gen/bazaar/admin/v1/admin_pb.ts";
import { AuthService } from "../../../gen/bazaar/auth/v1/auth_pb.ts";
import { CartService } from "../../../gen/bazaar/cart/v1/cart_pb.ts";
import { NotificationService } from "../../../gen/bazaar/notification/v1/notification_pb.ts";
import { OrderService, ShopOrderService } from "../../../gen/bazaar/order/v1/order_pb.ts";
import { MediaService } from "../../../gen/bazaar/product/v1/media_pb.ts";
import { ProductService, ShopService } from "../../../gen/bazaar/product/v1/product_pb.ts";
import { retryInterceptor, type RetryOptions } from "./retry.ts";
import { createSession, type Session } from "./session.ts";
import { memoryTokenStorage, type TokenStorage } from "./token-storage.ts";

/** Every public service, by the name its client has on a Bazaar. */
export const publicServices = {
  auth: AuthService,
  products: ProductService,
  shops: ShopService,
  media: MediaService,
  carts: CartService,
  orders: OrderService,
  shopOrders: ShopOrderService,
  admin: AdminService,
  notifications: NotificationService,
} as const;

export type PublicServices = typeof publicServices;
export type BazaarClients = { readonly [K in keyof PublicServices]: Client<PublicServices[K]> };

export interface BazaarOptions {
  /** The edge, e.g. `https://shop.example` or `http://127.0.0.1:8080` (a page: `location.origin`). */
  baseUrl: string;
  /** Where the session's tokens are kept; in memory by default. */
  storage?: TokenStorage;
  /** Retries of side-effect-free calls (retry.ts); false for none. */
  retry?: RetryOptions | false;
  /** Runs outside the SDK's own (first in the list: outermost), on every call. */
  interceptors?: Interceptor[];
  /** The fetch to use (a wrapper that logs or counts calls, a polyfill); the global one by default. */
  fetch?: typeof globalThis.fetch;
  /** Binary protobuf instead of JSON on the wire. */
  useBinaryFormat?: boolean;
  /** Side-effect-free calls by HTTP GET, which browsers and CDNs may cache (public catalog reads). */
  useHttpGet?: boolean;
  /** Told when the session ends because its refresh token was refused (sign in again). */
  onSessionEnded?: Parameters<typeof createSession>[0]["onEnded"];
  /**
   * Makes the transport from the SDK's interceptors, instead of Connect over fetch: for a
   * gRPC-Web transport, or an in-memory one in tests.
   */
  transport?: (interceptors: Interceptor[]) => Transport;
}

export interface Bazaar extends BazaarClients {
  readonly session: Session;
  /** The signed-in transport the clients use, for clients of your own. */
  readonly transport: Transport;
}

export function createBazaar(options: BazaarOptions): Bazaar {
  const makeTransport =
    options.transport ??
    ((interceptors: Interceptor[]) =>
      createConnectTransport({
        baseUrl: options.baseUrl,
        interceptors,
        fetch: options.fetch,
        useBinaryFormat: options.useBinaryFormat,
        useHttpGet: options.useHttpGet,
      }));
  const own = options.interceptors ?? [];
  const retry = options.retry === false ? [] : [retryInterceptor(options.retry)];
  // Sign-in and refresh go without the session's interceptor: they carry no access token.
  const session = createSession({
    auth: createClient(AuthService, makeTransport([...own, ...retry])),
    storage: options.storage ?? memoryTokenStorage(),
    onEnded: options.onSessionEnded,
  });
  // Retries outside the session: each attempt carries the token current at its start.
  const transport = makeTransport([...own, ...retry, session.interceptor]);
  const clients = Object.fromEntries(
    Object.entries(publicServices).map(([name, service]) => [name, createClient(service, transport)]),
  ) as unknown as BazaarClients;
  return { ...clients, session, transport };
}
