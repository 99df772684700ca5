// What the edge allows each public RPC: how large a request body, how long a backend call, and
// whether an anonymous answer is the same for everyone (public catalog reads), which makes it
// cacheable by browsers, CDNs and the edge itself.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { MediaService } from "../gen/bazaar/product/v1/media_pb.ts";
import { ProductService, ShopService } from "../gen/bazaar/product/v1/product_pb.ts";
import { OrderService } from "../gen/bazaar/order/v1/order_pb.ts";
import { AdminService } from "../gen/bazaar/admin/v1/admin_pb.ts";

export interface CallPolicy {
  method: DescMethod;
  /** Largest request body accepted, checked before the body is read. */
  maxBodyBytes: number;
  /** Longest backend call; a client's shorter deadline wins. Undefined for streams. */
  timeoutMs: number | undefined;
  /** Declared NO_SIDE_EFFECTS: may be called by GET. */
  read: boolean;
  /** An anonymous answer is public: `Cache-Control: public` and the edge's cache. */
  publicRead: boolean;
  /** A success may change what public reads answer (products, shops, stock). */
  changesCatalog: boolean;
}

export interface PolicyLimits {
  maxBodyBytes: number;
  readTimeoutMs: number;
  writeTimeoutMs: number;
  checkoutTimeoutMs: number;
}

/** Writes whose requests are larger than most: product descriptions with image lists. */
const largeBodies = new Set<DescMethod>([ProductService.method.createProduct, ProductService.method.updateProduct]);
const largeBodyBytes = 256 * 1024;

// MediaService only writes: a gallery change clears the cache at once, a picture the worker
// makes READY later shows once the cached answers age out (BAZAAR_EDGE_PUBLIC_MAX_AGE_SECONDS).
const catalogServices = new Set<DescService>([ProductService, ShopService, MediaService]);
/**
 * RPCs outside the catalog services that change what catalog reads answer: they take or give
 * back stock, hide and show a suspended shop's products, or edit the category tree.
 */
const stockMovers = new Set<DescMethod>([
  OrderService.method.placeOrder,
  OrderService.method.cancelOrder,
  AdminService.method.updateOrderStatus,
  AdminService.method.suspendShop,
  AdminService.method.reactivateShop,
  AdminService.method.updateCategory,
  AdminService.method.deleteCategory,
]);

export function callPolicies(services: DescService[], limits: PolicyLimits): Map<string, CallPolicy> {
  const policies = new Map<string, CallPolicy>();
  for (const service of services) {
    for (const method of service.methods) {
      const read = method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
      policies.set(`/${service.typeName}/${method.name}`, {
        method,
        maxBodyBytes: largeBodies.has(method) ? Math.max(limits.maxBodyBytes, largeBodyBytes) : limits.maxBodyBytes,
        timeoutMs:
          method.methodKind === "server_streaming"
            ? undefined
            : method === OrderService.method.placeOrder
              ? limits.checkoutTimeoutMs
              : read
                ? limits.readTimeoutMs
                : limits.writeTimeoutMs,
        read,
        publicRead: read && catalogServices.has(service),
        changesCatalog: read ? false : catalogServices.has(service) || stockMovers.has(method),
      });
    }
  }
  return policies;
}
