// The session against an in-memory edge (connect's router transport): which calls carry the
// token, one refresh for a burst of refused calls, a refused refresh ending the session, and a
// watch refused at its start. Against the real edge and auth service:
// tests/e2e/sdk-package.test.ts.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AuthService, TokensSchema } from "../../../gen/bazaar/auth/v1/auth_pb.ts";
import { CartService } from "../../../gen/bazaar/cart/v1/cart_pb.ts";
import { OrderService } from "../../../gen/bazaar/order/v1/order_pb.ts";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.ts";
import { createBazaar } from "./clients.ts";
import { errorInfoOf } from "./error-reasons.ts";
import { memoryTokenStorage } from "./token-storage.ts";

function refused(reason: string): ConnectError {
  return new ConnectError("refused", Code.Unauthenticated, undefined, [
    { desc: ErrorInfoSchema, value: { reason, domain: "bazaar" } },
  ]);
}

/**
 * An edge that takes one access token and one refresh token at a time; a refresh rotates both
 * (access-1/refresh-1, access-2/refresh-2, …), as auth does. It starts with access-live and
 * refresh-0: a session holding access-0 and refresh-0 has an expired access token.
 */
function fakeEdge() {
  const edge = {
    access: "access-live",
    refresh: "refresh-0",
    issued: 0,
    refreshes: 0,
    refuseRefresh: false,
    /** Each call's method and authorization header, in order. */
    seen: [] as string[],
  };
  const note = (ctx: HandlerContext) => edge.seen.push(`${ctx.method.name} ${ctx.requestHeader.get("authorization")}`);
  const check = (ctx: HandlerContext) => {
    note(ctx);
    if (ctx.requestHeader.get("authorization") !== `Bearer ${edge.access}`) throw refused("TOKEN_EXPIRED");
  };
  const issue = () => {
    edge.issued++;
    edge.access = `access-${edge.issued}`;
    edge.refresh = `refresh-${edge.issued}`;
    return create(TokensSchema, { accessToken: edge.access, refreshToken: edge.refresh });
  };
  const transport = (interceptors: Interceptor[]) =>
    createRouterTransport(
      (router) => {
        router.service(AuthService, {
          async login(_request, ctx) {
            note(ctx);
            return { tokens: issue() };
          },
          async refreshToken(request, ctx) {
            note(ctx);
            edge.refreshes++;
            // Long enough for every call of a burst to be refused while it is on its way.
            await new Promise((resolve) => setTimeout(resolve, 20));
            if (edge.refuseRefresh || request.refreshToken !== edge.refresh) throw refused("REFRESH_TOKEN_INVALID");
            return { tokens: issue() };
          },
          async logout(_request, ctx) {
            note(ctx);
            return {};
          },
          async getMe(_request, ctx) {
            check(ctx);
            return {};
          },
        });
        router.service(CartService, {
          async getCart(_request, ctx) {
            check(ctx);
            return {};
          },
        });
        router.service(OrderService, {
          async *watchOrders(_request, ctx) {
            check(ctx);
            yield { resumeToken: "r1" };
            yield { resumeToken: "r2" };
          },
        });
      },
      { transport: { interceptors } },
    );
  return { edge, transport };
}

/** A session whose access token (access-0) the edge no longer takes; its refresh-0 still works. */
function expiredSession() {
  const { edge, transport } = fakeEdge();
  const storage = memoryTokenStorage({ accessToken: "access-0", refreshToken: "refresh-0" });
  const ended: ConnectError[] = [];
  const bazaar = createBazaar({
    baseUrl: "http://edge.invalid",
    storage,
    transport,
    onSessionEnded: (error) => ended.push(error),
  });
  return { edge, storage, bazaar, ended };
}

describe("the session", () => {
  it("when signed in, then calls carry the access token and sign-in and sign-out carry none", async () => {
    const { edge, transport } = fakeEdge();
    const bazaar = createBazaar({ baseUrl: "http://edge.invalid", transport });
    await bazaar.session.signIn({ email: "a@example.test", password: "secret-123" });
    await bazaar.carts.getCart({});
    await bazaar.session.signOut();

    expect(edge.seen).toEqual(["Login null", "GetCart Bearer access-1", "Logout null"]);
    expect(await bazaar.session.tokens()).toBeUndefined();
  });

  it("when a call is refused for an expired token, then the session refreshes once, calls again and keeps the new tokens", async () => {
    const { edge, storage, bazaar } = expiredSession();
    await bazaar.carts.getCart({});

    expect(edge.seen).toEqual(["GetCart Bearer access-0", "RefreshToken null", "GetCart Bearer access-1"]);
    expect(await storage.load()).toMatchObject({ accessToken: "access-1", refreshToken: "refresh-1" });
  });

  it("when ten calls are refused at once, then one refresh serves them all and each calls again once", async () => {
    const { edge, bazaar } = expiredSession();
    await Promise.all([
      ...Array.from({ length: 5 }, () => bazaar.carts.getCart({})),
      ...Array.from({ length: 5 }, () => bazaar.auth.getMe({})),
    ]);

    expect(edge.refreshes).toBe(1);
    expect(edge.seen.filter((call) => call.endsWith("access-0"))).toHaveLength(10);
    expect(edge.seen.filter((call) => call.endsWith("access-1"))).toHaveLength(10);
  });

  it("when a call is refused after another call already refreshed, then it calls again without a second refresh", async () => {
    const { edge, bazaar } = expiredSession();
    await bazaar.carts.getCart({});
    // A call that was sent with access-0 before the refresh and refused after it.
    const fresh = await bazaar.session.refresh("access-0");

    expect(fresh.accessToken).toBe("access-1");
    expect(edge.refreshes).toBe(1);
  });

  it("when the refresh is refused, then the tokens are cleared, the end is told, and the refusal is the call's error", async () => {
    const { edge, storage, bazaar, ended } = expiredSession();
    edge.refuseRefresh = true;
    const failures = await Promise.all(
      Array.from({ length: 3 }, () => bazaar.carts.getCart({}).catch((error: unknown) => error)),
    );

    expect(failures.map((error) => errorInfoOf(error)?.reason)).toEqual(Array(3).fill("REFRESH_TOKEN_INVALID"));
    expect(edge.refreshes).toBe(1);
    expect(ended).toHaveLength(1);
    expect(await storage.load()).toBeUndefined();
    // Signed out now: the next call goes without a token and is refused as the edge decides.
    const next = await bazaar.carts.getCart({}).catch((error: unknown) => error);
    expect(ConnectError.from(next).code).toBe(Code.Unauthenticated);
    expect(edge.seen.at(-1)).toBe("GetCart null");
  });

  it("when the edge cannot be reached for the refresh, then the tokens are kept for the next call", async () => {
    const { storage, bazaar } = expiredSession();
    const unreachable = createBazaar({
      baseUrl: "http://edge.invalid",
      storage,
      transport: (interceptors) =>
        createRouterTransport(
          (router) =>
            router.service(AuthService, {
              refreshToken() {
                throw new ConnectError("edge restarting", Code.Unavailable);
              },
            }),
          { transport: { interceptors } },
        ),
    });
    await expect(unreachable.session.refresh("access-0")).rejects.toThrow(/edge restarting/);
    expect(await storage.load()).toMatchObject({ accessToken: "access-0", refreshToken: "refresh-0" });
    await bazaar.carts.getCart({});
  });

  it("when a watch is refused for an expired token, then the session refreshes once and the stream delivers", async () => {
    const { edge, bazaar } = expiredSession();
    const tokens: string[] = [];
    for await (const update of bazaar.orders.watchOrders({})) tokens.push(update.resumeToken);

    expect(tokens).toEqual(["r1", "r2"]);
    expect(edge.seen).toEqual(["WatchOrders Bearer access-0", "RefreshToken null", "WatchOrders Bearer access-1"]);
  });

  it("when signing out while a refresh is on its way, then the refreshed tokens are not kept", async () => {
    const { storage, bazaar } = expiredSession();
    const call = bazaar.carts.getCart({}).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await bazaar.session.signOut();
    await call;

    expect(await storage.load()).toBeUndefined();
    expect(await bazaar.session.tokens()).toBeUndefined();
  });
});
