// Public services at the edge: each RPC is forwarded as is to the backend that owns it, over
// the mesh's gRPC transport. Only the services listed in `publicServices` are routed, so the
// internal ones (InventoryService, UserDirectoryService, OrderAdminService) and reflection
// answer 404 here whatever a client tries.
import type { DescService } from "@bufbuild/protobuf";
import type { CallOptions, ConnectRouter, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { createClient, createContextKey } from "@connectrpc/connect";
import { forwardFrom } from "../services/kit/clients.ts";
import type { GrpcTransport } from "../services/kit/grpc-transport.ts";

/** The address of the socket the request came in on, set per request by the edge. */
export const remoteAddressKey = createContextKey<string>("", { description: "remote address" });

/**
 * Call options for the backend: the caller's identity, trace and deadline (forwardFrom), and
 * the socket's address appended to X-Forwarded-For, so the backend can find the client.
 */
function backendCallOptions(ctx: HandlerContext): CallOptions {
  const options = forwardFrom(ctx);
  const headers = new Headers(options.headers);
  const incoming = ctx.requestHeader.get("x-forwarded-for");
  const remote = ctx.values.get(remoteAddressKey);
  if (remote) headers.set("x-forwarded-for", incoming ? `${incoming}, ${remote}` : remote);
  return { ...options, headers };
}

export interface PublicService {
  service: DescService;
  transport: GrpcTransport;
}

export function routePublicServices(router: ConnectRouter, services: PublicService[]): void {
  for (const { service, transport } of services) {
    router.service(service, forwardingImpl(service, transport) as ServiceImpl<DescService>);
  }
}

type AnyClient = Record<string, (request: unknown, options: unknown) => Promise<unknown> | AsyncIterable<unknown>>;

function forwardingImpl(service: DescService, transport: GrpcTransport) {
  const client = createClient(service, transport) as unknown as AnyClient;
  const impl: Record<string, Function> = {};
  for (const method of service.methods) {
    const call = client[method.localName]!;
    impl[method.localName] =
      method.methodKind === "server_streaming"
        ? async function* (request: unknown, ctx: HandlerContext) {
            yield* call(request, backendCallOptions(ctx)) as AsyncIterable<unknown>;
          }
        : (request: unknown, ctx: HandlerContext) => call(request, backendCallOptions(ctx));
  }
  return impl;
}
