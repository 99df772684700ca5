// The operator pack (deploy/k8s/overlays/prod/observability) against a live mesh: after a
// customer checks out, every process is scraped, and every expression of the Grafana dashboard
// and of the alert rules, as the prod overlay renders them, must read only series some process
// exports, with labels those series carry (or that Prometheus adds from the target). A renamed
// metric or label fails here instead of leaving an empty panel or an alert that never fires.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { OrderStatus, PaymentMethod } from "../../gen/bazaar/order/v1/order_pb.ts";
import { renderKustomization } from "../../deploy/kustomize-subset.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { scrapeMetrics, type Sample } from "../support/metrics.ts";
import {
  dashboardQueries,
  type ExportedSeries,
  exportedSeries,
  unknownReferences,
  unknownVariableReferences,
} from "../support/promql-references.ts";
import { devCustomerCartWithNewProduct } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh();
const { orders } = e2e;

const root = fileURLToPath(new URL("../..", import.meta.url));
const prod = renderKustomization(join(root, "deploy/k8s/overlays/prod"));

/** The alert rules' expressions, by alert name. */
function alertExpressions(): Array<{ where: string; expr: string }> {
  const rules = prod.filter((r) => r.kind === "PrometheusRule");
  expect(rules.length, "the prod overlay has a PrometheusRule").toBeGreaterThan(0);
  return rules.flatMap((rule) =>
    (
      rule.spec as { groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }> }
    ).groups.flatMap((group) => group.rules.map((r) => ({ where: `alert ${r.alert ?? r.record}`, expr: r.expr }))),
  );
}

/** The dashboards the prod overlay ships, parsed. */
function dashboards(): unknown[] {
  const configMaps = prod.filter((r) => r.kind === "ConfigMap" && r.metadata.labels?.grafana_dashboard === "1");
  expect(configMaps.length, "the prod overlay has a dashboard ConfigMap").toBeGreaterThan(0);
  return configMaps.flatMap((map) =>
    Object.values((map as unknown as { data: Record<string, string> }).data).map((json) => JSON.parse(json)),
  );
}

/** The dev customer buys a new product with a card: RPCs, calls between services, events. */
async function checkout(): Promise<void> {
  const { asCustomer } = await devCustomerCartWithNewProduct(e2e, "Watched tea");
  const { order } = await orders.placeOrder(
    {
      idempotencyKey: randomUUID(),
      shippingAddress: {
        recipientName: "Ada",
        line1: "1 Alert Way",
        city: "Berlin",
        postalCode: "10999",
        countryCode: "DE",
      },
      payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
    },
    asCustomer,
  );
  expect(order!.status).toBe(OrderStatus.CONFIRMED);
}

/** Every process's samples, once the consumers have applied the checkout's events. */
async function scrapeEveryProcess(): Promise<Sample[]> {
  const appliedByCart = (samples: Sample[]) =>
    samples.some((s) => s.name === "bazaar_consumer_event_lag_seconds_count" && s.value > 0);
  const cart = await eventually(() => scrapeMetrics(e2e.mesh.metricsUrl("cart")), appliedByCart, 20_000, 250);
  const others = await Promise.all(
    e2e.mesh.processes.filter((name) => name !== "cart").map((name) => scrapeMetrics(e2e.mesh.metricsUrl(name))),
  );
  return [...cart, ...others.flat()];
}

function problemsOf(queries: Array<{ where: string; expr: string }>, exported: ExportedSeries): string[] {
  return queries.flatMap(({ where, expr }) => unknownReferences(expr, exported).map((p) => `${where}: ${p}`));
}

describe("the operator pack against the series a live mesh exports", () => {
  it("when a customer has checked out, then every dashboard panel, dashboard variable and alert reads only exported series and labels", async () => {
    await checkout();
    const samples = await scrapeEveryProcess();
    const exported = exportedSeries(samples);
    // The families the pack is about are there in the first place.
    for (const name of [
      "grpc_server_handled_total",
      "grpc_server_started_total",
      "grpc_client_handling_seconds_bucket",
      "db_client_connection_count",
      "bazaar_outbox_oldest_unpublished_age_seconds",
      "bazaar_consumer_pending_messages",
      "bazaar_dead_letters_unresolved",
      "bazaar_health_serving",
      "nodejs_eventloop_lag_p99_seconds",
    ])
      expect(exported.has(name), name).toBe(true);

    const alerts = alertExpressions();
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    expect(problemsOf(alerts, exported)).toEqual([]);

    for (const dashboard of dashboards()) {
      const { panels, variables } = dashboardQueries(dashboard);
      expect(panels.length).toBeGreaterThanOrEqual(20);
      expect(problemsOf(panels, exported)).toEqual([]);
      expect(
        variables.flatMap(({ where, query }) =>
          unknownVariableReferences(query, exported).map((p) => `${where}: ${p}`),
        ),
      ).toEqual([]);
    }
  });

  it("when a dashboard panel names a series that is not exported, then the check reports it", async () => {
    const exported = exportedSeries(await scrapeMetrics(e2e.mesh.metricsUrl("order")));
    const [first] = dashboardQueries(dashboards()[0]).panels;
    expect(problemsOf([first!], exported)).toEqual([]);
    const renamed = {
      where: first!.where,
      expr: first!.expr.replace("grpc_server_handled_total", "bazaar_rpc_server_handled_total"),
    };
    expect(problemsOf([renamed], exported)).toContain(
      `${first!.where}: series bazaar_rpc_server_handled_total is exported by no process`,
    );
  });
});
