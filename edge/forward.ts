// Public services at the edge: each RPC is forwarded as is to the backend that owns it, over
// the mesh's gRPC transport, whether it came in over Connect, gRPC-Web, gRPC or a REST route.
// Only the services listed as public are routed, so the internal ones (InventoryService,
// ShopAdminService, CategoryAdminService, UserDirectoryService, OrderAdminService,
// DeadLetterService, PaymentService) and reflection answer 404 here whatever a client tries.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { CallOptions, ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { createClient, createContextKey } from "@connectrpc/connect";
import type { Caller } from "../services/kit/auth.ts";
import type { TrustedProxies } from "../services/kit/client-address.ts";
import type { GrpcTransport } from "../services/kit/grpc-transport.ts";
import type { CallPolicy } from "./call-policy.ts";
import { clampClientDeadlines } from "./client-deadlines.ts";
import { answerDecodeFailuresAsInvalidArgument } from "./decode-failures.ts";

/** What the edge learned about a request before handing it on (see app.ts). */
export interface EdgeCall {
  requestId: string;
  traceParent: string;
  /** The socket's peer. */
  peerAddress: string;
  /** The X-Forwarded-For the backend gets (see forwardedForBackend); empty when there is no peer. */
  forwardedFor: string;
  policy: CallPolicy;
  /** The verified caller; undefined for an anonymous call. */
  caller?: Caller;
}

export const edgeCallKey = createContextKey<EdgeCall | undefined>(undefined, { description: "edge call" });

/** Headers of the client's request passed on to the backend as they are. */
const passedOn = ["authorization", "tracestate"] as const;
/** What backendCallOptions reads of the request. */
export const forwardedRequestHeaders = passedOn;

/**
 * The X-Forwarded-For to send on: the client's own header extended with our peer when the peer is
 * a proxy we trust to have written it, otherwise the peer alone. Auth trusts the edge and walks
 * the header from the right, so a header kept from an untrusted client would let that client
 * choose the address its login throttling counts against.
 */
export function forwardedForBackend(
  peerAddress: string,
  incoming: string | undefined,
  trustedProxies: TrustedProxies,
): string {
  if (!peerAddress) return "";
  return incoming && trustedProxies.has(peerAddress) ? `${incoming}, ${peerAddress}` : peerAddress;
}

/**
 * Call options for the backend: the caller's token, the trace and request id, the client's
 * deadline capped by the RPC's own limit, and X-Forwarded-For so the backend can find the client.
 */
export function backendCallOptions(
  call: EdgeCall,
  requestHeader: Headers,
  clientTimeoutMs: number | undefined,
  signal: AbortSignal,
): CallOptions {
  const headers = new Headers();
  for (const name of passedOn) {
    const value = requestHeader.get(name);
    if (value !== null) headers.set(name, value);
  }
  headers.set("traceparent", call.traceParent);
  headers.set("x-request-id", call.requestId);
  if (call.forwardedFor) headers.set("x-forwarded-for", call.forwardedFor);
  const cap = call.policy.timeoutMs;
  const timeoutMs = clientTimeoutMs === undefined ? cap : Math.min(clientTimeoutMs, cap ?? Number.POSITIVE_INFINITY);
  return { headers, timeoutMs, signal };
}

export interface PublicService {
  service: DescService;
  transport: GrpcTransport;
}

type Call = (request: unknown, options: CallOptions) => Promise<unknown> | AsyncIterable<unknown>;

/** One function per public RPC that calls its backend, keyed by the method. */
export function backendCalls(services: PublicService[]): Map<DescMethod, Call> {
  const calls = new Map<DescMethod, Call>();
  for (const { service, transport } of services) {
    const client = createClient(service, transport) as unknown as Record<string, Call>;
    for (const method of service.methods) calls.set(method, client[method.localName]!.bind(client));
  }
  return calls;
}

/**
 * Routes the given RPCs to their backends in a Connect router. `describeError` turns a
 * backend's error into what the client may see; a request that does not decode is refused as
 * invalid_argument (decode-failures.ts), and a deadline too long for a timer is shortened
 * (client-deadlines.ts).
 */
export function routeToBackends(
  router: ConnectRouter,
  methods: DescMethod[],
  calls: Map<DescMethod, Call>,
  describeError: (error: unknown, call: EdgeCall) => Error,
): void {
  const optionsFor = (ctx: HandlerContext) => {
    const call = ctx.values.get(edgeCallKey)!;
    return { call, options: backendCallOptions(call, ctx.requestHeader, ctx.timeoutMs(), ctx.signal) };
  };
  for (const method of methods) {
    const backend = calls.get(method)!;
    const impl =
      method.methodKind === "server_streaming"
        ? async function* (request: unknown, ctx: HandlerContext) {
            const { call, options } = optionsFor(ctx);
            try {
              yield* backend(request, options) as AsyncIterable<unknown>;
            } catch (error) {
              throw describeError(error, call);
            }
          }
        : async (request: unknown, ctx: HandlerContext) => {
            const { call, options } = optionsFor(ctx);
            try {
              return await backend(request, options);
            } catch (error) {
              throw describeError(error, call);
            }
          };
    router.rpc(method, impl as never);
  }
  answerDecodeFailuresAsInvalidArgument(router);
  clampClientDeadlines(router);
}
