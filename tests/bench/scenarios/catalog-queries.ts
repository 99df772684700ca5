// The catalog queries whose cost can grow with the catalog, measured at each --catalog size over
// gRPC on the product port (no edge cache in the way; grpc-status checked by the node driver).
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import {
  GetProductRequestSchema,
  ListProductsRequestSchema,
  ProductOrder,
  SearchProductsRequestSchema,
} from "../../../gen/bazaar/product/v1/product_pb.ts";
import { productPageTokens } from "../../../services/product/domain/catalog.ts";
import { dbBaselineIds } from "../baselines/database.ts";
import { rawBaselineIds } from "../baselines/http-hello.ts";
import { grpcUnary } from "../load/http2-client.ts";
import { grpcFrame } from "../wire.ts";
import { nodeDriverScenario, type Scenario } from "./scenario.ts";
import { createDb } from "../../../services/kit/db.ts";
import type { ProductDatabase } from "../../../services/product/db/database.ts";
import { searchVisibleProducts } from "../../../services/product/db/product.repository.ts";
import { runClosedLoop } from "../load/closed-loop.ts";

export interface CatalogQueryTargets {
  productAddress: string;
  mysqlUrl: string;
  productDatabase: string;
  catalogSize: number;
  productId: string;
  /** The id at 90% depth of the newest-first order, for a deep page token. */
  deepProductId: string;
}

/** Page reads and key lookups: many at once, like a storefront's traffic. */
const readConcurrency = 32;
// Searches at once: what InnoDB FULLTEXT, which ranks every match, could bear at a million.
const searchConcurrency = 4;

export function catalogQueryScenarios(targets: CatalogQueryTargets): Scenario[] {
  const deepToken = productPageTokens.encode({ order: "newest", id: targets.deepProductId, priceMinor: 0n });
  const query = <D extends DescMessage>(
    id: string,
    title: string,
    method: string,
    schema: D,
    request: MessageInitShape<D>,
    concurrency: number,
  ): Scenario => {
    const frame = grpcFrame(schema, request);
    const path = `/bazaar.product.v1.ProductService/${method}`;
    return nodeDriverScenario(
      {
        id: `catalog.${id}`,
        title,
        protocol: "gRPC",
        sweep: false,
        concurrency,
        catalogSize: targets.catalogSize,
        rawBaseline: rawBaselineIds.h2cNodeDriver,
        dbBaseline: dbBaselineIds.primaryKeySelect,
      },
      `http://${targets.productAddress}`,
      (connections, worker) => grpcUnary(connections.for(worker), path, frame),
    );
  };
  return [
    query(
      "get-product",
      "GetProduct",
      "GetProduct",
      GetProductRequestSchema,
      { id: targets.productId },
      readConcurrency,
    ),
    query(
      "list-products.first-page",
      "ListProducts, first page of 20",
      "ListProducts",
      ListProductsRequestSchema,
      {},
      readConcurrency,
    ),
    query(
      "list-products.deep-page",
      "ListProducts, page at 90% depth (page_token)",
      "ListProducts",
      ListProductsRequestSchema,
      { pageToken: deepToken },
      readConcurrency,
    ),
    query(
      "list-products.price-ascending",
      "ListProducts, price ascending",
      "ListProducts",
      ListProductsRequestSchema,
      { orderBy: ProductOrder.PRICE_ASC },
      readConcurrency,
    ),
    query(
      "search.common-word",
      "SearchProducts, a word in 5% of products",
      "SearchProducts",
      SearchProductsRequestSchema,
      { query: "espresso" },
      searchConcurrency,
    ),
    query(
      "search.rare-word",
      "SearchProducts, a rare word",
      "SearchProducts",
      SearchProductsRequestSchema,
      { query: "bench4242" },
      searchConcurrency,
    ),
    query(
      "search.two-common-words",
      "SearchProducts, two words each in 5–8% of products",
      "SearchProducts",
      SearchProductsRequestSchema,
      { query: "red espresso" },
      searchConcurrency,
    ),
    query(
      "search.common-word.facets",
      "SearchProducts, a word in 5% of products, with facet counts",
      "SearchProducts",
      SearchProductsRequestSchema,
      { query: "espresso", includeFacets: true },
      searchConcurrency,
    ),
    fullTextBaseline(targets, "search.common-word.mariadb-fulltext", "espresso"),
    fullTextBaseline(targets, "search.two-common-words.mariadb-fulltext", "red espresso"),
  ];
}

/**
 * The search as MariaDB's FULLTEXT path answers it (what SearchProducts ran before the read
 * model, and still runs while one is built): the repository's query, from the bench process.
 */
function fullTextBaseline(targets: CatalogQueryTargets, id: string, text: string): Scenario {
  return {
    id: `catalog.${id}`,
    title: `MariaDB FULLTEXT search "${text}" (the repository's query, kysely + mysql2)`,
    kind: "baseline",
    generator: "mysql2",
    protocol: "MySQL",
    sweep: false,
    concurrency: searchConcurrency,
    catalogSize: targets.catalogSize,
    async measure(run) {
      const db = createDb<ProductDatabase>({ url: targets.mysqlUrl, database: targets.productDatabase });
      try {
        return await runClosedLoop({
          ...run,
          async call() {
            const rows = await searchVisibleProducts(db, { text, filter: {}, limit: 21 });
            return rows.length > 0 ? undefined : "no match";
          },
        });
      } finally {
        await db.destroy();
      }
    },
  };
}
