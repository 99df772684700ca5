// Who may share an answer, and what Cache-Control says of it: decided here once for every
// protocol path (the lean Connect path, connect-node's adapter, REST).
import type { Caller } from "../services/kit/auth.ts";
import {
  type BatchGetProductsRequest,
  type GetProductRequest,
  ProductService,
} from "../gen/bazaar/product/v1/product_pb.ts";
import type { CallPolicy } from "./call-policy.ts";

export interface AnswerPolicy {
  /**
   * A public catalog read is answered alike to anonymous visitors and customers: their answers
   * are shared (the product service shows a customer nothing an anonymous visitor does not see).
   * Sellers and admins may see more and are never answered from the cache.
   */
  shared(policy: CallPolicy | undefined, caller: Caller | undefined): boolean;
  cacheControl(policy: CallPolicy | undefined, caller: Caller | undefined): string;
}

export function answerPolicy(publicMaxAgeSeconds: number): AnswerPolicy {
  const shared = (policy: CallPolicy | undefined, caller: Caller | undefined) =>
    policy?.publicRead === true && (caller === undefined || caller.role === "customer");
  // A CDN must not keep a signed-in answer: it would hand it to the product's seller as well.
  const anonymous = `public, max-age=${publicMaxAgeSeconds}`;
  const signedIn = `private, max-age=${publicMaxAgeSeconds}`;
  return {
    shared,
    cacheControl: (policy, caller) => (!shared(policy, caller) ? "private, no-store" : caller ? signedIn : anonymous),
  };
}

/** The products a cached answer is about, by its request: one product's read, or a batch's. */
export function productIdsOf(policy: CallPolicy): ((request: unknown) => readonly string[]) | undefined {
  if (policy.method === ProductService.method.getProduct) return (request) => [(request as GetProductRequest).id];
  if (policy.method === ProductService.method.batchGetProducts)
    return (request) => (request as BatchGetProductsRequest).ids;
  return undefined;
}
