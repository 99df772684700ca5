// A connect-es Transport for calls inside the mesh, so mesh clients are the ordinary typed
// `Client<typeof XService>` of connect-es. Unary calls go straight over node:http2 (h2-unary.ts);
// server streams over @grpc/grpc-js, which costs about half the CPU per call of connect-node's
// gRPC client on this hardware (NOTES.md).
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import type { StreamResponse, UnaryResponse } from "@connectrpc/connect";
import { connectErrorFromGrpc, headersFromMetadata, metadataFromHeaders } from "./grpc-status.ts";
import { rpcClientRecorder } from "./metrics.ts";
import { createUnaryChannel, parseTarget } from "./h2-unary.ts";
import { endRpcSpan, startRpcClientSpan, traceParentOfSpan, tracingOn, type Span } from "./tracing.ts";

const maxReceiveBytes = 4 * 1024 * 1024;

export interface GrpcTransportOptions {
  /** Deadline for unary calls that bring none of their own. */
  defaultTimeoutMs?: number;
  /**
   * HTTP/2 connections to spread calls over. One Node client and server over one connection
   * run in lockstep; a few connections let both sides' event loops overlap.
   */
  connections?: number;
}

export interface GrpcTransport extends Transport {
  close(): void;
}

export function createGrpcTransport(address: string, options: GrpcTransportOptions = {}): GrpcTransport {
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 5_000;
  // grpc-js channels for server streams; they connect on their first stream.
  const channels = Array.from(
    { length: Math.max(1, options.connections ?? 1) },
    () =>
      new grpc.Client(channelTarget(address), grpc.credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
        // Every replica behind a list or a DNS name takes calls in turn; one that goes away is
        // skipped until it answers again (pick_first would stay on one replica).
        "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
        "grpc.keepalive_time_ms": 30_000,
        "grpc.max_receive_message_length": maxReceiveBytes,
        // A peer that just restarted is retried within a second or two, not minutes.
        "grpc.initial_reconnect_backoff_ms": 200,
        "grpc.max_reconnect_backoff_ms": 2_000,
        // Per-call bookkeeping for grpc-js's channelz service, which nothing here serves.
        "grpc.enable_channelz": 0,
      }),
  );
  let next = 0;
  // Calls take turns over the channels that are connected. After a peer restarts, one channel may
  // be connected again while another still waits out its reconnect backoff (up to 2 s): a call
  // given that one would wait for it (waitForReady) and could run out of its deadline, though
  // the peer is up. Only when none is connected does a call wait on the next in turn.
  const pick = () => {
    for (let tried = 0; tried < channels.length; tried++) {
      const channel = channels[next++ % channels.length]!;
      if (channel.getChannel().getConnectivityState(true) === grpc.connectivityState.READY) return channel;
    }
    return channels[next++ % channels.length]!;
  };

  const unaryChannel = createUnaryChannel(address, { connections: options.connections, maxReceiveBytes });

  return {
    async unary(method, signal, timeoutMs, header, input) {
      const request = create(method.input, input as never);
      const calls = rpcClientRecorder(method);
      const started = performance.now();
      calls.started();
      const headers = new Headers(header);
      const span = traceCall(method, headers);
      let code: number = Code.Internal;
      try {
        const answer = await unaryChannel.call(
          pathOf(method),
          toBinary(method.input, request),
          headers,
          timeoutMs ?? defaultTimeoutMs,
          signal,
        );
        const message = decodeAnswer(method.output, answer.message);
        code = 0;
        return {
          stream: false,
          service: method.parent,
          method,
          header: answer.header,
          message,
          trailer: answer.trailer,
        } as unknown as UnaryResponse<never, never>;
      } catch (error) {
        const failure = ConnectError.from(error);
        code = failure.code;
        throw failure;
      } finally {
        calls.record(code, (performance.now() - started) / 1000);
        endRpcSpan(span, code, "client");
      }
    },

    async stream(method, signal, timeoutMs, header, input) {
      if (method.methodKind !== "server_streaming") {
        throw new ConnectError(
          `${method.methodKind} calls are not supported by the mesh transport`,
          Code.Unimplemented,
        );
      }
      let request: unknown;
      for await (const message of input) request = create(method.input, message as never);
      const calls = rpcClientRecorder(method);
      const started = performance.now();
      calls.started();
      const headers = new Headers(header);
      const span = traceCall(method, headers);
      const metadata = callMetadata(headers);
      const call = pick().makeServerStreamRequest(
        pathOf(method),
        serializerFor(method.input),
        deserializerFor(method.output),
        request,
        metadata,
        // Streams such as WatchOrders are long-lived: only a deadline the caller asked for.
        timeoutMs === undefined ? {} : { deadline: deadlineFrom(timeoutMs) },
      );
      const cancel = () => call.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
      // Not awaited: a stream may stay silent for minutes before its first message.
      const responseHeader = new Headers();
      call.once("metadata", (metadata: grpc.Metadata) => {
        for (const [key, value] of headersFromMetadata(metadata)) responseHeader.append(key, value);
      });
      const trailer = new Headers();
      call.once("status", (status: grpc.StatusObject) => {
        calls.record(status.code, (performance.now() - started) / 1000);
        endRpcSpan(span, status.code, "client");
        for (const [key, value] of headersFromMetadata(status.metadata)) trailer.append(key, value);
      });
      async function* messages() {
        try {
          for await (const message of call) yield message;
        } catch (error) {
          throw isServiceError(error) ? connectErrorFromGrpc(error) : ConnectError.from(error);
        } finally {
          signal?.removeEventListener("abort", cancel);
          call.cancel();
        }
      }
      return {
        stream: true,
        service: method.parent,
        method,
        header: responseHeader,
        message: messages(),
        trailer,
      } as unknown as StreamResponse<never, never>;
    },

    close() {
      unaryChannel.close();
      for (const channel of channels) channel.close();
    },
  };
}

/**
 * Request metadata that waits for a connection: without waitForReady a call made while the
 * channel is between reconnect attempts fails at once with UNAVAILABLE, even though the peer may
 * be back a moment later; with it the call waits, bounded by its deadline.
 */
function callMetadata(headers: Headers): grpc.Metadata {
  const metadata = metadataFromHeaders(headers);
  metadata.setOptions({ waitForReady: true });
  return metadata;
}

/**
 * With tracing on, a CLIENT span for the call, whose traceparent the call carries instead of the
 * one it was given (that one is the span's parent when no span is active); undefined when off.
 */
function traceCall(method: DescMethod, headers: Headers): Span | undefined {
  if (!tracingOn()) return undefined;
  const span = startRpcClientSpan(method, headers.get("traceparent") ?? undefined);
  if (span) headers.set("traceparent", traceParentOfSpan(span));
  return span;
}

/** An answer's message; bytes that do not decode are the peer's fault, not the caller's. */
function decodeAnswer(schema: DescMessage, bytes: Uint8Array): unknown {
  try {
    return fromBinary(schema, bytes);
  } catch (error) {
    throw new ConnectError(`answer not decodable: ${String(error)}`, Code.Internal);
  }
}

/**
 * The grpc-js target of a service address: host:port and dns:///name:port as they are, a list
 * of replicas (IP addresses, as h2-unary's parseTarget reads them) as grpc-js's static address
 * list, ipv4:… or ipv6:….
 */
export function channelTarget(address: string): string {
  if (!address.includes(",")) return address;
  const target = parseTarget(address);
  if (target.kind === "static") {
    const families = new Set(target.authorities.map((authority) => (authority.startsWith("[") ? "ipv6" : "ipv4")));
    if (families.size === 1) return `${[...families][0]}:${target.authorities.join(",")}`;
  }
  throw new Error(`not a list of IPv4 or of IPv6 replicas: "${address}"`);
}

function pathOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function serializerFor(schema: DescMessage) {
  return (message: unknown) => Buffer.from(toBinary(schema, message as never));
}

function deserializerFor(schema: DescMessage) {
  return (bytes: Buffer) => fromBinary(schema, bytes);
}

function deadlineFrom(timeoutMs: number): Date {
  return new Date(Date.now() + Math.max(0, timeoutMs));
}

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as grpc.ServiceError).code === "number";
}
