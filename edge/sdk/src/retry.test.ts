// Which calls are retried, on which codes, how often: against an in-memory service that fails
// a given number of times first.
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CartService } from "../../../gen/bazaar/cart/v1/cart_pb.ts";
import { OrderService } from "../../../gen/bazaar/order/v1/order_pb.ts";
import { ProductService } from "../../../gen/bazaar/product/v1/product_pb.ts";
import { isSideEffectFree, retryInterceptor } from "./retry.ts";

/** Clients whose RPCs fail `failures` times with `code`, then answer; `calls` counts them. */
function flaky(failures: number, code: Code) {
  const state = { calls: 0 };
  const fail = () => {
    state.calls++;
    if (state.calls <= failures) throw new ConnectError("flaky", code);
  };
  const transport = createRouterTransport(
    (router) => {
      router.service(ProductService, {
        async getProduct() {
          fail();
          return {};
        },
      });
      router.service(CartService, {
        async addCartItem() {
          fail();
          return {};
        },
      });
      router.service(OrderService, {
        async *watchOrders() {
          fail();
          yield {};
        },
      });
    },
    { transport: { interceptors: [retryInterceptor({ initialDelayMs: 1, maxDelayMs: 4 })] } },
  );
  return {
    state,
    products: createClient(ProductService, transport),
    carts: createClient(CartService, transport),
    orders: createClient(OrderService, transport),
  };
}

describe("retries", () => {
  it("when the contracts mark an RPC NO_SIDE_EFFECTS, then it is retried; writes and streams are not", () => {
    expect(isSideEffectFree(ProductService.method.getProduct)).toBe(true);
    expect(isSideEffectFree(CartService.method.getCart)).toBe(true);
    expect(isSideEffectFree(CartService.method.addCartItem)).toBe(false);
    expect(isSideEffectFree(OrderService.method.placeOrder)).toBe(false);
    expect(isSideEffectFree(OrderService.method.watchOrders)).toBe(false);
  });

  it("when a side-effect-free call meets UNAVAILABLE twice, then the third attempt answers", async () => {
    const { state, products } = flaky(2, Code.Unavailable);
    await products.getProduct({ id: "p" });
    expect(state.calls).toBe(3);
  });

  it("when a side-effect-free call meets DEADLINE_EXCEEDED from the server, then it is retried", async () => {
    const { state, products } = flaky(1, Code.DeadlineExceeded);
    await products.getProduct({ id: "p" });
    expect(state.calls).toBe(2);
  });

  it("when it stays UNAVAILABLE, then it gives up after three attempts with the last error", async () => {
    const { state, products } = flaky(10, Code.Unavailable);
    await expect(products.getProduct({ id: "p" })).rejects.toMatchObject({ code: Code.Unavailable });
    expect(state.calls).toBe(3);
  });

  it("when the error is not one that says try again, then there is no second attempt", async () => {
    const { state, products } = flaky(1, Code.NotFound);
    await expect(products.getProduct({ id: "p" })).rejects.toMatchObject({ code: Code.NotFound });
    expect(state.calls).toBe(1);
  });

  it("when a write meets UNAVAILABLE, then it is not repeated: whether it happened is unknown", async () => {
    const { state, carts } = flaky(1, Code.Unavailable);
    await expect(carts.addCartItem({ productId: "p", quantity: 1 })).rejects.toMatchObject({
      code: Code.Unavailable,
    });
    expect(state.calls).toBe(1);
  });

  it("when a stream fails, then the retry interceptor leaves it to followStream", async () => {
    const { state, orders } = flaky(1, Code.Unavailable);
    const reading = (async () => {
      for await (const _ of orders.watchOrders({})) return;
    })();
    await expect(reading).rejects.toMatchObject({ code: Code.Unavailable });
    expect(state.calls).toBe(1);
  });

  it("when the caller aborts during the wait, then no further attempt is made", async () => {
    const { state, products } = flaky(10, Code.Unavailable);
    const abort = new AbortController();
    const call = products.getProduct({ id: "p" }, { signal: abort.signal });
    abort.abort();
    await expect(call).rejects.toBeInstanceOf(ConnectError);
    expect(state.calls).toBeLessThanOrEqual(1);
  });
});
