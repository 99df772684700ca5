// One test mesh per end-to-end file: started before the file's tests and stopped after them,
// with typed clients of every public service over the edge, and internal services on their own
// ports under a service identity. Call useMesh() at the top of the file: hooks run in the order
// they are registered, so the mesh is up when the file's own beforeAll hooks run, and stopped
// after its own afterAll hooks (those run in reverse order). Work the mesh needs first (a
// receiver to export to, a check that stops the file) goes in a beforeAll registered before it.
import type { Writable } from "node:stream";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type CallOptions, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll } from "vitest";
import { AdminService } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { AuthService, ServiceIdentityService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { NotificationService } from "../../gen/bazaar/notification/v1/notification_pb.ts";
import { OrderService, ShopOrderService } from "../../gen/bazaar/order/v1/order_pb.ts";
import { MediaService } from "../../gen/bazaar/product/v1/media_pb.ts";
import { ProductService, ShopService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { createMeshClient } from "../../services/kit/clients.ts";
import { devServiceSecret, type ServiceName } from "../../services/kit/config.ts";
import type { GrpcTransportOptions } from "../../services/kit/grpc-transport.ts";
import { bearer } from "../../services/kit/testing/calls.ts";
import { startMailbox, type Mailbox } from "./mailbox.ts";
import { startTestMesh, type TestMesh, type TestMeshShape } from "./mesh.ts";

/** A client of every public service over one transport. */
export interface PublicClients {
  auth: Client<typeof AuthService>;
  products: Client<typeof ProductService>;
  shops: Client<typeof ShopService>;
  media: Client<typeof MediaService>;
  carts: Client<typeof CartService>;
  orders: Client<typeof OrderService>;
  shopOrders: Client<typeof ShopOrderService>;
  admin: Client<typeof AdminService>;
  notifications: Client<typeof NotificationService>;
}

export function publicClients(transport: Transport): PublicClients {
  return {
    auth: createClient(AuthService, transport),
    products: createClient(ProductService, transport),
    shops: createClient(ShopService, transport),
    media: createClient(MediaService, transport),
    carts: createClient(CartService, transport),
    orders: createClient(OrderService, transport),
    shopOrders: createClient(ShopOrderService, transport),
    admin: createClient(AdminService, transport),
    notifications: createClient(NotificationService, transport),
  };
}

/** Clients of the public services through the edge (Connect protocol, binary), and the mesh. */
export interface MeshUnderTest extends PublicClients {
  /** The running mesh (edge URL, service addresses, NATS, processes); read it in hooks and tests. */
  readonly mesh: TestMesh;
  /** The SMTP server the mesh's notification service sends mail to (BAZAAR_NOTIFICATION_SMTP_URL). */
  readonly mailbox: Mailbox;
  /** A client of a service on its own gRPC port, as another service calls it; closed with the mesh. */
  internal<S extends DescService>(service: S, at: ServiceName, options?: GrpcTransportOptions): Client<S>;
  /** Call options carrying a service token of `serviceName`, issued by auth for the dev secret. */
  asService(serviceName: ServiceName): Promise<CallOptions>;
}

export interface UseMeshOptions {
  /**
   * Environment for every process of the mesh (limits, timeouts, fault points); a function when
   * it depends on what an earlier beforeAll started (a receiver's address).
   */
  env?: NodeJS.ProcessEnv | (() => NodeJS.ProcessEnv);
  shape?: TestMeshShape;
  /** HTTP version of the clients through the edge; "2" by default. */
  httpVersion?: "1.1" | "2";
  /** How long starting may take; vitest's hookTimeout by default. */
  startTimeoutMs?: number;
  /** Receives every log line of every process of the mesh (for tests that search them). */
  logs?: Writable;
}

export function useMesh(options: UseMeshOptions = {}): MeshUnderTest {
  let running: TestMesh | undefined;
  let edge: Transport | undefined;
  let mailbox: Mailbox | undefined;
  const closers: Array<() => void> = [];
  beforeAll(async () => {
    const env = typeof options.env === "function" ? options.env() : options.env;
    mailbox = await startMailbox();
    running = await startTestMesh(
      { BAZAAR_NOTIFICATION_SMTP_URL: mailbox.smtpUrl, ...env },
      options.shape,
      options.logs,
    );
    edge = createConnectTransport({ baseUrl: running.edgeUrl, httpVersion: options.httpVersion ?? "2" });
  }, options.startTimeoutMs);
  // A failure seen only on a loaded CI box is explained by what the mesh said meanwhile: its
  // processes log warnings and errors only, the last 50 lines each.
  afterEach(({ task }) => {
    if (task.result?.state !== "fail" || !running) return;
    const said = running.processes
      .map((name) => [name, running!.recentLogs(name)] as const)
      .filter(([, lines]) => lines.length > 0)
      .map(([name, lines]) => `--- ${name}\n${lines.join("\n")}`);
    console.error(`the mesh's recent log lines after "${task.name}" failed:\n${said.join("\n") || "(none)"}`);
  });
  afterAll(async () => {
    for (const close of closers.splice(0)) close();
    await running?.stop();
    await mailbox?.stop();
  });

  const started = (): TestMesh => {
    if (!running) throw new Error("the mesh is not running: use it inside hooks and tests, after useMesh()");
    return running;
  };
  const edgeTransport = (): Transport => {
    started();
    return edge!;
  };
  // The edge's address is known once the mesh runs; clients made now reach it through this.
  const throughEdge: Transport = {
    unary: (...args) => edgeTransport().unary(...args),
    stream: (...args) => edgeTransport().stream(...args),
  };
  return {
    ...publicClients(throughEdge),
    get mesh() {
      return started();
    },
    get mailbox() {
      started();
      return mailbox!;
    },
    internal(service, at, transportOptions) {
      const { client, close } = createMeshClient(service, started().addresses[at], transportOptions);
      closers.push(close);
      return client;
    },
    async asService(serviceName) {
      const identity = createMeshClient(ServiceIdentityService, started().addresses.auth);
      try {
        const { accessToken } = await identity.client.issueServiceToken({ serviceName, secret: devServiceSecret });
        return bearer(accessToken);
      } finally {
        identity.close();
      }
    },
  };
}
