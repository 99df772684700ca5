// The mesh's gRPC transport after its peer restarts, over real HTTP/2 on loopback: calls go over
// whichever of its connections is back, not one still waiting out its reconnect backoff.
import { createServer } from "node:net";
import { createClient } from "@connectrpc/connect";
import { afterAll, expect, it } from "vitest";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { createGrpcTransport } from "./grpc-transport.ts";
import { createLogger } from "./log.ts";
import { notYetImplemented } from "./not-implemented.ts";
import { bind, serve, type RunningServer } from "./serve.ts";

const log = createLogger("grpc-transport-test", "silent");
const productId = "0193a000-0000-7000-8000-0000000000bb";
let server: RunningServer | undefined;

afterAll(async () => {
  await server?.close(0);
});

async function unusedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

it("when a peer comes back after being down, then no call waits out the backoff of a connection not back yet", {
  timeout: 20_000,
}, async () => {
  const port = await unusedPort();
  const transport = createGrpcTransport(`127.0.0.1:${port}`, { connections: 2 });
  const client = createClient(ProductService, transport);
  // Down for 5 s: both connections fail again and again, and back off up to 2 s each.
  const downUntil = Date.now() + 5_000;
  while (Date.now() < downUntil) await client.getProduct({ id: productId }, { timeoutMs: 200 }).catch(() => undefined);

  server = await serve({
    address: `127.0.0.1:${port}`,
    log,
    services: [
      bind(ProductService, {
        ...notYetImplemented(ProductService, "not this test"),
        async getProduct(request: { id: string }) {
          return { product: { id: request.id, name: "Tea" } };
        },
      }),
    ],
  });
  // The first call that gets through: a connection is back.
  expect((await client.getProduct({ id: productId }, { timeoutMs: 5_000 })).product?.id).toBe(productId);
  // From now on every call answers at once, whatever the other connection's backoff says.
  for (let call = 0; call < 20; call++) {
    expect((await client.getProduct({ id: productId }, { timeoutMs: 100 })).product?.id).toBe(productId);
  }
  transport.close();
});
