// Public services at the edge: each RPC is forwarded as is to the backend that owns it, over
// the mesh's gRPC transport. Only the services listed in `publicServices` are routed, so the
// internal ones (InventoryService, UserDirectoryService, OrderAdminService) and reflection
// answer 404 here whatever a client tries.
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import { forwardFrom } from "../services/kit/clients.ts";
import type { GrpcTransport } from "../services/kit/grpc-transport.ts";

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
            yield* call(request, forwardFrom(ctx)) as AsyncIterable<unknown>;
          }
        : (request: unknown, ctx: HandlerContext) => call(request, forwardFrom(ctx));
  }
  return impl;
}
