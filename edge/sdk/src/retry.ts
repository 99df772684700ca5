// Retries of calls that change nothing: only RPCs declared `idempotency_level =
// NO_SIDE_EFFECTS` in proto/ (the generated descriptors carry it as method.idempotency), only
// unary ones, only on the codes that say "try again" — a restarting service or an edge that
// cut a backend call short — with exponential backoff and jitter. A write (PlaceOrder, AddCartItem) is
// never retried here: whether it happened is unknown, and an app that wants to repeat it does
// so with its idempotency key.
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { sleep } from "./sleep.ts";

export interface RetryOptions {
  /** Calls in all, the first included; 3 by default. */
  maxAttempts?: number;
  /** Wait before the second attempt; doubled for each further one (with jitter). 100 ms by default. */
  initialDelayMs?: number;
  /** Longest wait between attempts; 2 s by default. */
  maxDelayMs?: number;
  /** Codes worth another attempt; UNAVAILABLE and DEADLINE_EXCEEDED by default. */
  codes?: readonly Code[];
}

export const defaultRetryCodes: readonly Code[] = [Code.Unavailable, Code.DeadlineExceeded];

/** True for the RPCs this interceptor retries: unary and declared NO_SIDE_EFFECTS. */
export function isSideEffectFree(method: { methodKind: string; idempotency: MethodOptions_IdempotencyLevel }): boolean {
  return method.methodKind === "unary" && method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
}

export function retryInterceptor(options: RetryOptions = {}): Interceptor {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const initialDelayMs = options.initialDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 2_000;
  const codes = new Set(options.codes ?? defaultRetryCodes);
  return (next) => async (request) => {
    if (request.stream || !isSideEffectFree(request.method)) return next(request);
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(request);
      } catch (error) {
        // The caller's own deadline or abort ended it: another attempt would outlive it.
        if (attempt >= maxAttempts || request.signal.aborted || !codes.has(ConnectError.from(error).code)) throw error;
        const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
        // Jittered: clients that failed together do not all come back together.
        await sleep(ceiling / 2 + Math.random() * (ceiling / 2), request.signal);
        if (request.signal.aborted) throw request.signal.reason;
      }
    }
  };
}
