// Tracing and metrics of the real mesh. Every process exports spans over OTLP/HTTP to a receiver
// in this test: a checkout through the edge is one trace, from the edge through order, cart and
// product, across NATS into the consumers, down to the SQL statements. Every process serves
// Prometheus metrics on a port of its own, with the series an operator watches.
import { randomBytes, randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderStatus, PaymentMethod } from "../../gen/bazaar/order/v1/order_pb.ts";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { parseMetrics, type Sample } from "../support/metrics.ts";
import { callRest } from "../support/rest.ts";
import {
  SpanKind,
  SpanStatus,
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from "../../services/kit/testing/otlp-receiver.ts";
import { devCustomerCartWithNewProduct } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

// The receiver starts before the mesh, which exports to it, and closes after the mesh stopped.
let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
});
const e2e = useMesh({
  env: () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: "100" }),
  httpVersion: "1.1",
});
const { orders } = e2e;

const address = { recipientName: "Ada", line1: "1 Trace Way", city: "Berlin", postalCode: "10999", countryCode: "DE" };
/** The trace the test's own request belongs to; its span is the edge span's parent. */
const checkoutTraceId = randomBytes(16).toString("hex");
const clientSpanId = randomBytes(8).toString("hex");
let productId = "";

/** The dev customer buys one product through the edge; the order is confirmed. */
async function checkout() {
  const cart = await devCustomerCartWithNewProduct(e2e, "Traced tea");
  productId = cart.productId;
  const { asCustomer } = cart;
  const { order } = await orders.placeOrder(
    {
      idempotencyKey: randomUUID(),
      shippingAddress: address,
      payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
    },
    { headers: { ...asCustomer.headers, traceparent: `00-${checkoutTraceId}-${clientSpanId}-01` } },
  );
  expect(order!.status).toBe(OrderStatus.CONFIRMED);
}

const isOrderPlacedApplied = (span: ReceivedSpan) =>
  span.kind === SpanKind.consumer && span.name === "process bazaar.order.order_placed";
const parentsMissing = (spans: ReceivedSpan[]) => {
  const ids = new Set(spans.map((span) => span.spanId));
  return spans.filter((span) => span.parentSpanId === undefined || !ids.has(span.parentSpanId));
};

describe("tracing a checkout", () => {
  it("when a customer checks out through the edge, then one trace holds the edge, order, cart and product spans, the consumers applying OrderPlaced and the SQL, each span's parent in it", async () => {
    await checkout();
    // Spans arrive in batches from six processes, children often before their parents.
    const trace = await eventually(
      async () => receiver.spans.filter((span) => span.traceId === checkoutTraceId),
      (spans) => {
        const consumers = new Set(spans.filter(isOrderPlacedApplied).map((span) => span.service));
        return consumers.has("bazaar-cart") && consumers.has("bazaar-admin") && parentsMissing(spans).length === 1;
      },
      30_000,
      200,
    );

    // Each step of the checkout, wherever it was received, is in this trace and no other.
    const everywhere = (match: (span: ReceivedSpan) => boolean) =>
      receiver.spans.filter(match).map((span) => span.traceId);
    expect(everywhere((s) => s.kind === SpanKind.server && s.attributes["rpc.method"] === "PlaceOrder")).toEqual([
      checkoutTraceId,
      checkoutTraceId,
    ]);
    expect(new Set(everywhere(isOrderPlacedApplied))).toEqual(new Set([checkoutTraceId]));
    for (const service of ["bazaar-edge", "bazaar-order", "bazaar-cart", "bazaar-product"]) {
      expect(
        trace.some((span) => span.service === service),
        service,
      ).toBe(true);
    }

    // The one root: the edge's span, child of the client's traceparent.
    const [root] = parentsMissing(trace);
    expect(root).toMatchObject({
      service: "bazaar-edge",
      kind: SpanKind.server,
      parentSpanId: clientSpanId,
      name: "bazaar.order.v1.OrderService/PlaceOrder",
      status: SpanStatus.unset,
      attributes: {
        "rpc.system": "connect_rpc",
        "rpc.service": "bazaar.order.v1.OrderService",
        "rpc.method": "PlaceOrder",
        "bazaar.edge.protocol": "connect",
        "http.response.status_code": 200,
      },
    });

    // edge CLIENT → order SERVER, with gRPC's conventions on both sides.
    const byId = new Map(trace.map((span) => [span.spanId, span]));
    const parentOf = (span: ReceivedSpan | undefined) => (span?.parentSpanId ? byId.get(span.parentSpanId) : undefined);
    const placeOrder = trace.find(
      (s) => s.service === "bazaar-order" && s.kind === SpanKind.server && s.attributes["rpc.method"] === "PlaceOrder",
    );
    const grpcOk = {
      "rpc.system": "grpc",
      "rpc.service": "bazaar.order.v1.OrderService",
      "rpc.method": "PlaceOrder",
      "rpc.grpc.status_code": 0,
    };
    expect(placeOrder).toMatchObject({ status: SpanStatus.unset, attributes: grpcOk });
    expect(parentOf(placeOrder)).toMatchObject({ service: "bazaar-edge", kind: SpanKind.client, attributes: grpcOk });
    expect(parentOf(parentOf(placeOrder))).toBe(root);

    // order → product: stock sold in one call (ReserveStock with sell_now), a SERVER span under
    // an order CLIENT span; nothing is left to commit once the card is paid.
    for (const method of ["ReserveStock"]) {
      const served = trace.find(
        (s) => s.service === "bazaar-product" && s.kind === SpanKind.server && s.attributes["rpc.method"] === method,
      );
      expect(served, method).toMatchObject({
        attributes: {
          "rpc.system": "grpc",
          "rpc.service": "bazaar.product.v1.InventoryService",
          "rpc.grpc.status_code": 0,
        },
      });
      expect(parentOf(served)).toMatchObject({
        service: "bazaar-order",
        kind: SpanKind.client,
        attributes: { "rpc.method": method },
      });
    }
    expect(trace.filter((s) => s.attributes["rpc.method"] === "CommitReservation")).toEqual([]);
    expect(
      trace.some(
        (s) =>
          s.service === "bazaar-cart" &&
          s.kind === SpanKind.server &&
          s.attributes["rpc.service"] === "bazaar.cart.v1.CartService",
      ),
    ).toBe(true);

    // The card's payment: taken by the payment service as it is authorized (capture at once, the
    // default), in the same trace; no CapturePayment follows.
    const paymentCalls = trace.filter(
      (s) =>
        s.service === "bazaar-payment" &&
        s.kind === SpanKind.server &&
        s.attributes["rpc.service"] === "bazaar.payment.v1.PaymentService",
    );
    // (The order service's payment-event consumer may ask too, under the same trace, when the
    // PaymentCaptured event overtakes checkout's own confirmation.)
    const paymentMethods = new Set(paymentCalls.map((s) => s.attributes["rpc.method"]));
    expect(paymentMethods.has("CreatePayment")).toBe(true);
    expect(paymentMethods.has("CapturePayment")).toBe(false);

    // Across NATS: the relay's PRODUCER span, child of PlaceOrder, is the parent of each consumer's span.
    const applied = trace.filter(isOrderPlacedApplied);
    expect(applied.length).toBeGreaterThanOrEqual(1);
    for (const span of applied) {
      expect(span.attributes).toMatchObject({
        "messaging.system": "nats",
        "messaging.destination.name": "bazaar.order.order_placed",
      });
      expect(["cart-order-placed", "admin-projections", "notification-order-events"]).toContain(
        span.attributes["messaging.consumer.group.name"],
      );
      const published = parentOf(span);
      expect(published).toMatchObject({
        service: "bazaar-order",
        kind: SpanKind.producer,
        name: "publish bazaar.order.order_placed",
      });
      expect(published!.attributes["messaging.message.id"]).toBe(span.attributes["messaging.message.id"]);
      expect(parentOf(published)).toBe(placeOrder);
    }

    // SQL: statements of the order service, of the product service and of a consumer.
    const statements = trace.filter(
      (span) => span.kind === SpanKind.client && span.attributes["db.system.name"] === "mysql",
    );
    expect(
      statements.some(
        (s) =>
          s.service === "bazaar-order" &&
          /^insert (ignore )?into `orders`/i.test(String(s.attributes["db.query.text"])),
      ),
    ).toBe(true);
    expect(statements.some((s) => s.service === "bazaar-product")).toBe(true);
    expect(statements.some((s) => applied.includes(parentOf(s)!))).toBe(true);
    for (const statement of statements) {
      expect(statement.attributes["db.namespace"]).toMatch(/_(auth|product|cart|order|admin|payment|notification)$/);
      expect(statement.attributes["db.operation.name"]).toMatch(/^[A-Z]+$/);
      expect(statement.attributes["server.address"]).toBeTypeOf("string");
      expect(statement.attributes["server.port"]).toBeTypeOf("number");
    }
  });
});

async function scrape(process: string): Promise<Sample[]> {
  const response = await fetch(e2e.mesh.metricsUrl(process), { signal: AbortSignal.timeout(10_000) });
  expect(response.status, process).toBe(200);
  return parseMetrics(await response.text());
}

/** The value of the one sample of `name` whose labels include `labels`. */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

describe("metrics of every process", () => {
  it("when traffic has flowed, then each process serves its RPC, pool, outbox, consumer, dead-letter and runtime series with sensible values", async () => {
    if (!productId) await checkout();
    const rest = await callRest(e2e.mesh.edgeUrl, "GET", `/v1/products/${productId}`);
    expect(rest.status).toBe(200);
    for (const transport of [
      createGrpcTransport({ baseUrl: e2e.mesh.edgeUrl }),
      createGrpcWebTransport({ baseUrl: e2e.mesh.edgeUrl, httpVersion: "2" }),
    ]) {
      await createClient(ProductService, transport).getProduct({ id: productId });
    }

    const placeOrder = { grpc_type: "unary", grpc_service: "bazaar.order.v1.OrderService", grpc_method: "PlaceOrder" };
    const order = await scrape("order");
    expect(sampleValue(order, "grpc_server_handled_total", { ...placeOrder, grpc_code: "OK" })).toBeGreaterThanOrEqual(
      1,
    );
    expect(sampleValue(order, "grpc_server_handling_seconds_count", placeOrder)).toBeGreaterThanOrEqual(1);
    expect(sampleValue(order, "grpc_server_handling_seconds_bucket", { ...placeOrder, le: "+Inf" })).toBe(
      sampleValue(order, "grpc_server_handling_seconds_count", placeOrder),
    );
    const reserve = {
      grpc_service: "bazaar.product.v1.InventoryService",
      grpc_method: "ReserveStock",
      grpc_code: "OK",
    };
    expect(sampleValue(order, "grpc_client_handled_total", reserve)).toBeGreaterThanOrEqual(1);
    expect(sampleValue(order, "bazaar_outbox_published_total")).toBeGreaterThanOrEqual(1);

    const edge = await eventually(
      () => scrape("edge"),
      (samples) =>
        ["rest", "grpc", "grpc-web"].every(
          (protocol) =>
            (sampleValue(samples, "grpc_server_handled_total", {
              protocol,
              grpc_method: "GetProduct",
              grpc_code: "OK",
            }) ?? 0) >= 1,
        ),
      10_000,
    );
    expect(
      sampleValue(edge, "grpc_server_handled_total", { protocol: "connect", ...placeOrder, grpc_code: "OK" }),
    ).toBeGreaterThanOrEqual(1);
    for (const protocol of ["rest", "grpc", "grpc-web"]) {
      expect(
        sampleValue(edge, "grpc_server_handled_total", { protocol, grpc_method: "GetProduct", grpc_code: "OK" }),
        protocol,
      ).toBe(1);
    }
    expect(
      sampleValue(edge, "grpc_server_handling_seconds_count", { protocol: "connect", ...placeOrder }),
    ).toBeGreaterThanOrEqual(1);
    expect(sampleValue(edge, "grpc_client_handled_total", { ...placeOrder, grpc_code: "OK" })).toBeGreaterThanOrEqual(
      1,
    );
    expect(edge.some((s) => s.name.startsWith("db_client_") || s.name.startsWith("bazaar_outbox_"))).toBe(false);
    // The cache of public answers: the checkout's anonymous ListProducts (Connect) looked it up, and
    // the catalog's events keep it fresh.
    expect(
      (sampleValue(edge, "bazaar_edge_public_cache_lookups_total", { outcome: "hit" }) ?? 0) +
        (sampleValue(edge, "bazaar_edge_public_cache_lookups_total", { outcome: "miss" }) ?? 0),
    ).toBeGreaterThanOrEqual(1);
    expect(sampleValue(edge, "bazaar_edge_public_cache_followed")).toBe(1);
    expect(sampleValue(edge, "bazaar_edge_public_cache_entries")).toBeGreaterThanOrEqual(0);
    // The search read model: built from the demo catalog, and what buyers find in it.
    const product = await eventually(
      () => scrape("product"),
      (samples) => sampleValue(samples, "bazaar_product_search_index_ready", { engine: "sqlite-fts5" }) === 1,
      10_000,
    );
    expect(sampleValue(product, "bazaar_product_search_index_ready", { engine: "sqlite-fts5" })).toBe(1);
    expect(sampleValue(product, "bazaar_product_search_index_products", { state: "visible" })).toBeGreaterThan(0);

    const consumersOf: Record<string, string[]> = {
      cart: ["cart-order-placed", "cart-product-snapshots"],
      admin: ["admin-projections"],
    };
    for (const service of ["auth", "product", "cart", "order", "admin"]) {
      const samples = await eventually(
        () => scrape(service),
        // Consumers settle their last events a moment after the checkout returns.
        (s) =>
          (consumersOf[service] ?? []).every(
            (consumer) =>
              sampleValue(s, "bazaar_consumer_pending_messages", { consumer }) === 0 &&
              sampleValue(s, "bazaar_consumer_ack_pending_messages", { consumer }) === 0,
          ),
        20_000,
        250,
      );
      const database = { database: expect.stringMatching(new RegExp(`_${service}$`)) };
      const pool = (name: string) => samples.find((s) => s.name === name);
      expect(pool("db_client_connection_max"), service).toMatchObject({
        labels: { db_client_connection_pool_name: expect.stringMatching(new RegExp(`_${service}$`)) },
        value: 10,
      });
      const poolName = {
        db_client_connection_pool_name: pool("db_client_connection_max")!.labels.db_client_connection_pool_name!,
      };
      expect(
        sampleValue(samples, "db_client_connection_count", { ...poolName, db_client_connection_state: "used" })! +
          sampleValue(samples, "db_client_connection_count", { ...poolName, db_client_connection_state: "idle" })!,
        service,
      ).toBeGreaterThanOrEqual(1);
      expect(sampleValue(samples, "db_client_connection_pending_requests", poolName), service).toBeGreaterThanOrEqual(
        0,
      );
      expect(pool("bazaar_outbox_backlog_events"), service).toMatchObject({
        labels: database,
        value: expect.any(Number),
      });
      expect(pool("bazaar_outbox_backlog_events")!.value, service).toBeGreaterThanOrEqual(0);
      expect(pool("bazaar_outbox_oldest_unpublished_age_seconds")!.value, service).toBeGreaterThanOrEqual(0);
      expect(sampleValue(samples, "process_resident_memory_bytes"), service).toBeGreaterThan(10_000_000);
      expect(sampleValue(samples, "nodejs_eventloop_lag_p99_seconds"), service).toBeGreaterThanOrEqual(0);
      expect(
        sampleValue(samples, "grpc_server_handled_total", {
          grpc_service: "grpc.health.v1.Health",
          grpc_method: "Check",
          grpc_code: "OK",
        }),
        service,
      ).toBeGreaterThanOrEqual(1);
      expect(sampleValue(samples, "bazaar_health_serving", { grpc_service: "" }), service).toBe(1);
      for (const consumer of consumersOf[service] ?? []) {
        expect(sampleValue(samples, "bazaar_consumer_pending_messages", { consumer }), consumer).toBe(0);
        expect(sampleValue(samples, "bazaar_consumer_ack_pending_messages", { consumer }), consumer).toBe(0);
        expect(sampleValue(samples, "bazaar_dead_letters_unresolved", { consumer }), consumer).toBe(0);
      }
    }
    const cart = await scrape("cart");
    expect(
      sampleValue(cart, "bazaar_consumer_events_total", { consumer: "cart-order-placed", outcome: "applied" }),
    ).toBeGreaterThanOrEqual(1);
    const admin = await scrape("admin");
    expect(
      sampleValue(admin, "bazaar_consumer_events_total", { consumer: "admin-projections", outcome: "applied" }),
    ).toBeGreaterThanOrEqual(1);
    for (const samples of [edge, cart]) expect(sampleValue(samples, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
  });
});
