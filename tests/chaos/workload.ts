// The steady load a chaos run keeps up while it breaks things: customers checking out through
// the edge (retrying each call with the same idempotency key, as a shop's client would; every
// third checkout asks for 3-D Secure and the buyer approves on the test provider's page), a
// seller cancelling one shop order of every few orders and now and then adding a picture to a
// product's gallery (ask for an upload, PUT it to object storage, confirm), and anonymous
// visitors browsing and searching the catalog. It remembers every order and every picture a
// client was told about, and the first answer to each search: no fault may change what a
// search finds.
import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import {
  OrderService,
  OrderStatus,
  PaymentMethod,
  ShopOrderService,
  type Order,
} from "../../gen/bazaar/order/v1/order_pb.ts";
import { errorInfoOf } from "../../services/kit/error-info.ts";
import { ImageSlot, MediaService } from "../../gen/bazaar/product/v1/media_pb.ts";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";

type Caller = { headers: Record<string, string> };

export interface WorkloadOptions {
  edgeUrl: string;
  customers: Caller[];
  /** Products of (at least) two shops, alternating: each checkout takes two neighbours. */
  productIds: string[];
  /** The shops' seller, who cancels the first shop order of every `cancelEvery`-th order. */
  seller: Caller;
  cancelEvery: number;
  browsers: number;
  /** How long one call is retried through an outage before the workload gives up on it. */
  retryForMs: number;
  /** The seller adds `picture` (a JPEG) to these products' galleries, one every `everyMs`, 20 each at most. */
  pictures: { productIds: string[]; picture: Buffer; everyMs: number };
}

export interface WorkloadTally {
  checkouts: number;
  /** 3-D Secure checkouts whose buyer's approval the test provider's page took. */
  approvals: number;
  /** Shop orders the seller cancelled (CancelShopOrder answered, or a retry found it cancelled). */
  cancellations: number;
  browses: number;
  /** Failed attempts by code: expected while a part is down (unavailable), telling otherwise. */
  failures: Map<string, number>;
  /** Calls still failing after retryForMs of retries: a part that did not come back. */
  gaveUp: number;
  /** Calls answered with a definite refusal (not retried): call, code and message, for the report. */
  refused: string[];
  /** Answers from a server that no outage explains (internal, unknown): call and message, for the report. */
  unexpected: string[];
  /** Pictures whose ConfirmImageUpload answered. */
  pictures: number;
  /** Uploads begun again because their URL had expired before the confirm got through. */
  uploadsStartedOver: number;
  /** Searches answered, each a first page and the page its token leads to. */
  searches: number;
  /** Searches answered differently from their first answer (the catalog's text does not change during a run). */
  changedSearches: string[];
}

export interface RunningWorkload {
  tally: WorkloadTally;
  /** Every order id a PlaceOrder response carried. */
  acknowledged: string[];
  /** Every image id a ConfirmImageUpload response carried. */
  confirmedImages: string[];
  stop(): Promise<void>;
}

/** What a client retries: the outcome is unknown or the service is briefly away. */
const retryable = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Aborted,
  Code.Unknown,
  Code.Internal,
  Code.ResourceExhausted,
]);
/** The most pictures one product's gallery holds (the product service's default). */
const galleryLimit = 20;
/** Words of the chaos items and of the demo catalog; several words, and more than a page each. */
const searchQueries = ["chaos", "espresso", "coffee beans"];
const address = {
  recipientName: "Chaos",
  line1: "1 Fault Street",
  city: "Berlin",
  postalCode: "10117",
  countryCode: "DE",
};

export function startWorkload(options: WorkloadOptions): RunningWorkload {
  const transport = createConnectTransport({ baseUrl: options.edgeUrl, httpVersion: "1.1" });
  const carts = createClient(CartService, transport);
  const orders = createClient(OrderService, transport);
  const shopOrders = createClient(ShopOrderService, transport);
  const products = createClient(ProductService, transport);
  const media = createClient(MediaService, transport);
  const tally: WorkloadTally = {
    checkouts: 0,
    approvals: 0,
    cancellations: 0,
    browses: 0,
    failures: new Map(),
    gaveUp: 0,
    refused: [],
    unexpected: [],
    pictures: 0,
    uploadsStartedOver: 0,
    searches: 0,
    changedSearches: [],
  };
  const firstSearchAnswers = new Map<string, string>();
  const acknowledged: string[] = [];
  const confirmedImages: string[] = [];
  let stopped = false;

  const retrying = async <T>(name: string, call: () => Promise<T>): Promise<T | undefined> => {
    const giveUpAt = Date.now() + options.retryForMs;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        const { code, rawMessage, isWireError } = ConnectError.from(error);
        // Only what a server answered: a socket the killed edge left behind fails in the client
        // library ("write EPIPE"), which labels it internal itself.
        if (isWireError && (code === Code.Internal || code === Code.Unknown))
          tally.unexpected.push(`${name}: ${Code[code]} ${rawMessage}`);
        tally.failures.set(Code[code], (tally.failures.get(Code[code]) ?? 0) + 1);
        if (!retryable.has(code)) {
          tally.refused.push(`${name}: ${Code[code]} ${rawMessage}`);
          return undefined;
        }
        if (Date.now() > giveUpAt) {
          tally.gaveUp += 1;
          return undefined;
        }
        await pause(200);
      }
    }
  };

  const shop = async (me: Caller, index: number) => {
    for (let round = 0; !stopped; round++) {
      const productId = options.productIds[(index + round) % options.productIds.length]!;
      const neighbour = options.productIds[(index + round + 1) % options.productIds.length]!;
      if (!(await retrying("ClearCart", () => carts.clearCart({}, me)))) continue;
      if (!(await retrying("AddCartItem", () => carts.addCartItem({ productId, quantity: 1 + (round % 2) }, me))))
        continue;
      if (!(await retrying("AddCartItem", () => carts.addCartItem({ productId: neighbour, quantity: 1 }, me))))
        continue;
      const cardToken = round % 3 === 2 ? "tok_threeDSecure" : "tok_visa";
      const request = {
        idempotencyKey: randomUUID(),
        shippingAddress: address,
        payment: { method: PaymentMethod.CARD, cardToken },
        returnUrl: "https://shop.example/back",
      };
      const placed = await retrying("PlaceOrder", () => orders.placeOrder(request, me));
      if (placed?.order) {
        acknowledged.push(placed.order.id);
        tally.checkouts += 1;
        const redirectUrl = placed.order.payment?.nextAction?.redirectUrl;
        if (redirectUrl) await approveOnBankPage(redirectUrl);
        else if (tally.checkouts % options.cancelEvery === 0) await cancelFirstShopOrder(placed.order);
      }
      await pause(100);
    }
  };

  /**
   * The buyer approves on the test provider's 3-D Secure page (its form post). A retry after an
   * unknown outcome may be refused (4xx): the first approval went through.
   */
  const approveOnBankPage = async (redirectUrl: string) => {
    const done = await retrying("ApproveOnBankPage", async () => {
      let answer: Response;
      try {
        answer = await fetch(redirectUrl, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "decision=approve",
          redirect: "manual",
          signal: AbortSignal.timeout(10_000),
        });
      } catch (error) {
        throw new ConnectError(`bank page unreachable: ${(error as Error).message}`, Code.Unavailable);
      }
      await answer.arrayBuffer();
      if (answer.status >= 500) throw new ConnectError(`bank page answered ${answer.status}`, Code.Unavailable);
      return true;
    });
    if (done) tally.approvals += 1;
  };

  /**
   * The seller cancels the order's first shop order. A retry after an unknown outcome may find
   * it cancelled already: the first attempt went through, which is what the retry wanted.
   */
  const cancelFirstShopOrder = async (order: Order) => {
    const shopOrder = order.shopOrders[0];
    if (order.status !== OrderStatus.CONFIRMED || !shopOrder) return;
    const done = await retrying("CancelShopOrder", async () => {
      try {
        return await shopOrders.cancelShopOrder({ id: shopOrder.id, reason: "chaos: cannot supply" }, options.seller);
      } catch (error) {
        if (errorInfoOf(ConnectError.from(error))?.metadata.from === "SHOP_ORDER_STATUS_CANCELLED") return {};
        throw error;
      }
    });
    if (done) tally.cancellations += 1;
  };

  /**
   * One picture into a product's gallery, as a seller's client adds it: each step retried
   * through outages, the PUT and the confirm with the same upload (a second confirm answers the
   * same image). Only an upload whose URL expired meanwhile is begun again.
   */
  const addPicture = async (ownerId: string) => {
    const { picture } = options.pictures;
    while (!stopped) {
      const upload = await retrying("CreateImageUpload", () =>
        media.createImageUpload(
          {
            slot: ImageSlot.PRODUCT_GALLERY,
            ownerId,
            contentType: "image/jpeg",
            sizeBytes: BigInt(picture.length),
            altText: "chaos picture",
          },
          options.seller,
        ),
      );
      if (!upload) return;
      const expired = () => Date.now() >= Number(upload.expireTime!.seconds) * 1000;
      const put = await retrying("PutUpload", async () => {
        let answer: Response;
        try {
          answer = await fetch(upload.uploadUrl, {
            method: "PUT",
            body: new Uint8Array(picture),
            headers: upload.uploadHeaders,
            signal: AbortSignal.timeout(10_000),
          });
        } catch (error) {
          throw new ConnectError(`object storage unreachable: ${(error as Error).message}`, Code.Unavailable);
        }
        const text = await answer.text();
        if (answer.status >= 500) throw new ConnectError(`object storage answered ${answer.status}`, Code.Unavailable);
        if (!answer.ok)
          throw new ConnectError(`object storage answered ${answer.status}: ${text}`, Code.FailedPrecondition);
        return true;
      });
      if (!put) return;
      const confirmed = await retrying("ConfirmImageUpload", async () => {
        try {
          return await media.confirmImageUpload({ uploadId: upload.uploadId }, options.seller);
        } catch (error) {
          if (errorInfoOf(ConnectError.from(error))?.reason === "UPLOAD_NOT_FOUND" && expired())
            return "expired" as const;
          throw error;
        }
      });
      if (confirmed === "expired") {
        tally.uploadsStartedOver += 1;
        continue;
      }
      if (confirmed?.image) {
        confirmedImages.push(confirmed.image.id);
        tally.pictures += 1;
      }
      return;
    }
  };

  const addPictures = async () => {
    const { productIds, everyMs } = options.pictures;
    for (let n = 0; !stopped && n < productIds.length * galleryLimit; n++) {
      await pause(everyMs);
      if (!stopped) await addPicture(productIds[n % productIds.length]!);
    }
  };

  /** A first page of 3 and the next through its token: the order and the token must never change. */
  const search = async (query: string): Promise<boolean> => {
    const first = await retrying("SearchProducts", () => products.searchProducts({ query, pageSize: 3 }));
    if (!first) return false;
    const next = first.nextPageToken
      ? await retrying("SearchProducts", () =>
          products.searchProducts({ query, pageSize: 3, pageToken: first.nextPageToken }),
        )
      : { products: [] };
    if (!next) return false;
    tally.searches += 1;
    const answer = JSON.stringify([
      first.products.map((p) => p.id),
      first.nextPageToken,
      next.products.map((p) => p.id),
    ]);
    const firstAnswer = firstSearchAnswers.get(query);
    if (firstAnswer === undefined) firstSearchAnswers.set(query, answer);
    else if (answer !== firstAnswer && tally.changedSearches.length < 20)
      tally.changedSearches.push(`"${query}": ${answer}, first ${firstAnswer}`);
    return true;
  };

  const browse = async (index: number) => {
    for (let round = 0; !stopped; round++) {
      const step = (round + index) % 3;
      const done =
        step === 0
          ? await retrying("GetProduct", () =>
              products.getProduct({ id: options.productIds[round % options.productIds.length]! }),
            )
          : step === 1
            ? await retrying("ListProducts", () => products.listProducts({ pageSize: 20 }))
            : await search(searchQueries[Math.floor(round / 3) % searchQueries.length]!);
      if (done) tally.browses += 1;
      await pause(50);
    }
  };

  const running = [
    ...options.customers.map((me, i) => shop(me, i)),
    ...Array.from({ length: options.browsers }, (_, i) => browse(i)),
    addPictures(),
  ];
  return {
    tally,
    acknowledged,
    confirmedImages,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
