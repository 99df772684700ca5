// GetProduct along every road a client takes: through the edge as Connect JSON over HTTP/1.1 (wrk)
// and h2c (h2load), anonymous and as a customer (both answered from the edge's shared cache of
// public answers), as a seller (never cached: edge → product service → MariaDB), and
// gRPC straight to the product service's port. GetMe adds the token check at the edge and at auth.
import { GetProductRequestSchema } from "../../../gen/bazaar/product/v1/product_pb.ts";
import { dbBaselineIds } from "../baselines/database.ts";
import { rawBaselineIds } from "../baselines/http-hello.ts";
import { grpcUnary, Http2Connections } from "../load/http2-client.ts";
import { grpcFrame } from "../wire.ts";
import { fixedRequestScenario, nodeDriverScenario, type Scenario } from "./scenario.ts";

export interface ProductReadTargets {
  edgeUrl: string;
  productAddress: string;
  productId: string;
  /** A customer's access token, for the signed-in reads. */
  accessToken: string;
  /** A seller's access token, for the reads no cache may answer. */
  sellerAccessToken: string;
}

export async function productReadScenarios(targets: ProductReadTargets): Promise<Scenario[]> {
  const getProductUrl = `${targets.edgeUrl}/bazaar.product.v1.ProductService/GetProduct`;
  const body = Buffer.from(JSON.stringify({ id: targets.productId }));
  const json = { "content-type": "application/json" };
  const signedIn = { ...json, authorization: `Bearer ${targets.accessToken}` };
  const asSeller = { ...json, authorization: `Bearer ${targets.sellerAccessToken}` };
  const grpcPath = "/bazaar.product.v1.ProductService/GetProduct";
  const frame = grpcFrame(GetProductRequestSchema, { id: targets.productId });
  await expectGrpcSuccess(targets.productAddress, grpcPath, frame);
  const http1 = { protocol: "HTTP/1.1", sweep: true, rawBaseline: rawBaselineIds.http1Wrk } as const;
  const h2c = { protocol: "h2c", sweep: true, rawBaseline: rawBaselineIds.h2cH2load } as const;
  const uncached = { dbBaseline: dbBaselineIds.primaryKeySelect };
  return [
    fixedRequestScenario(
      { ...http1, id: "edge.get-product.anonymous.http1", title: "GetProduct via the edge, anonymous (edge cache)" },
      "wrk",
      { url: getProductUrl, body, headers: json },
    ),
    fixedRequestScenario(
      { ...http1, id: "edge.get-product.signed-in.http1", title: "GetProduct via the edge, a customer (edge cache)" },
      "wrk",
      { url: getProductUrl, body, headers: signedIn },
    ),
    fixedRequestScenario(
      {
        ...http1,
        ...uncached,
        id: "edge.get-product.seller.http1",
        title: "GetProduct via the edge, a seller (no cache)",
      },
      "wrk",
      { url: getProductUrl, body, headers: asSeller },
    ),
    fixedRequestScenario(
      { ...h2c, id: "edge.get-product.anonymous.h2c", title: "GetProduct via the edge, anonymous (edge cache)" },
      "h2load",
      { url: getProductUrl, body, headers: json },
    ),
    fixedRequestScenario(
      { ...h2c, id: "edge.get-product.signed-in.h2c", title: "GetProduct via the edge, a customer (edge cache)" },
      "h2load",
      { url: getProductUrl, body, headers: signedIn },
    ),
    fixedRequestScenario(
      {
        ...h2c,
        ...uncached,
        id: "edge.get-product.seller.h2c",
        title: "GetProduct via the edge, a seller (no cache)",
      },
      "h2load",
      { url: getProductUrl, body, headers: asSeller },
    ),
    fixedRequestScenario(
      {
        ...h2c,
        ...uncached,
        protocol: "gRPC",
        id: "grpc.get-product.h2load",
        title: "GetProduct, gRPC on the product port (grpc-status not checked)",
      },
      "h2load",
      {
        url: `http://${targets.productAddress}${grpcPath}`,
        body: frame,
        headers: { "content-type": "application/grpc", te: "trailers" },
      },
    ),
    nodeDriverScenario(
      {
        ...uncached,
        protocol: "gRPC",
        sweep: true,
        rawBaseline: rawBaselineIds.h2cNodeDriver,
        id: "grpc.get-product.node-driver",
        title: "GetProduct, gRPC on the product port",
      },
      `http://${targets.productAddress}`,
      (connections, worker) => grpcUnary(connections.for(worker), grpcPath, frame),
    ),
    fixedRequestScenario(
      {
        ...h2c,
        sweep: false,
        concurrency: 32,
        id: "edge.get-me.h2c",
        title: "GetMe via the edge (token verified at the edge and at auth)",
      },
      "h2load",
      { url: `${targets.edgeUrl}/bazaar.auth.v1.AuthService/GetMe`, body: Buffer.from("{}"), headers: signedIn },
    ),
  ];
}

/** h2load counts any gRPC answer as a success, so the one request it repeats is checked here first. */
async function expectGrpcSuccess(address: string, path: string, frame: Uint8Array): Promise<void> {
  const connections = new Http2Connections(`http://${address}`, 1);
  try {
    const failure = await grpcUnary(connections.for(0), path, frame);
    if (failure) throw new Error(`${path} on ${address} failed before any load: ${failure}`);
  } finally {
    await connections.close();
  }
}
