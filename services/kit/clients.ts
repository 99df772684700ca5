// Typed clients for calls inside the mesh: connect-es `Client<typeof XService>` over the mesh
// transport (grpc-transport.ts), plus the call options that carry the incoming call's identity,
// trace and deadline.
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type CallOptions, type Client, type HandlerContext } from "@connectrpc/connect";
import { createGrpcTransport, type GrpcTransport, type GrpcTransportOptions } from "./grpc-transport.ts";
import { requestIdKey } from "./serve.ts";

export type { Client };

/** Headers that follow a request from hop to hop. */
const forwardedHeaders = ["authorization", "traceparent", "tracestate", "x-request-id"];

export interface MeshClient<S extends DescService> {
  client: Client<S>;
  close(): void;
}

export function createMeshClient<S extends DescService>(
  service: S,
  address: string,
  options?: GrpcTransportOptions,
): MeshClient<S> {
  const transport: GrpcTransport = createGrpcTransport(address, options);
  return { client: createClient(service, transport), close: () => transport.close() };
}

/**
 * Options for a call made while serving `ctx`: the caller's credentials and trace headers go
 * along, and the call gets what is left of the incoming deadline, so a slow hop never outlives
 * the request that caused it.
 */
export function forwardFrom(ctx: HandlerContext, extra: CallOptions = {}): CallOptions {
  const headers = new Headers(extra.headers);
  for (const name of forwardedHeaders) {
    const value = ctx.requestHeader.get(name);
    if (value !== null && !headers.has(name)) headers.set(name, value);
  }
  const requestId = ctx.values.get(requestIdKey);
  if (requestId && !headers.has("x-request-id")) headers.set("x-request-id", requestId);
  const remaining = ctx.timeoutMs();
  const timeoutMs =
    remaining === undefined ? extra.timeoutMs : Math.min(remaining, extra.timeoutMs ?? Number.POSITIVE_INFINITY);
  return { ...extra, headers, timeoutMs, signal: extra.signal ?? ctx.signal };
}
