// gRPC calls straight to each service's own port, as a mesh peer (or anyone on the network)
// could make them: every method each process serves — internal services, health, reflection and
// dead letters included. Some calls are well-formed (valid framing and headers, a token of the
// kind of caller the method serves), so generated messages reach handlers and the database;
// the rest damage messages, framing, compression, metadata and tokens, or use paths, methods and
// content types gRPC never uses.
import fc from "fast-check";
import type { DescMethod } from "@bufbuild/protobuf";
import type { ServiceName } from "../../services/kit/config.ts";
import { framedBody, compression, framing, oneFrame, uncompressed, type Compression, type Framing } from "./framing.ts";
import {
  authorization,
  authorizationHeader,
  extraHeaders,
  setsDeadline,
  tokenOf,
  type Authorization,
  type ExtraHeaders,
  type Role,
} from "./headers.ts";
import { payloadBytes, type Payload, type Payloads } from "./payloads.ts";
import { rpcPath, type PreparedCall, type SendContext } from "./prepared-call.ts";
import type { FuzzTargets } from "./targets.ts";

export interface ServiceCase {
  process: ServiceName;
  /** A served method's path, or any other path. */
  path: string;
  httpMethod: string;
  contentType: string | undefined;
  te: string | undefined;
  payload: Payload;
  framing: Framing;
  compression: Compression;
  auth: Authorization;
  extra: ExtraHeaders;
}

const contentTypes = ["application/grpc", "application/grpc+proto"];
const oddContentTypes = [
  "application/grpc+json",
  "application/grpc-web",
  "application/json",
  "text/plain",
  "",
  "application/grpc; charset=x",
];

export class ServiceFuzz {
  readonly cases: fc.Arbitrary<ServiceCase>;
  readonly #methods: Map<string, DescMethod>;

  constructor(targets: FuzzTargets, payloads: Payloads) {
    this.#methods = new Map(
      Object.values(targets.methodsByProcess)
        .flat()
        .map((method) => [rpcPath(method), method]),
    );
    const publicMethods = new Set(targets.publicMethods);
    const callOf = (process: ServiceName, method: DescMethod) => {
      const path = fc.constant(rpcPath(method));
      // Internal services take service tokens; public ones users (and any token where none is needed).
      const roles = publicMethods.has(method) ? (["customer", "seller", "admin"] as const) : (["service"] as const);
      return fc.oneof(
        { weight: 2, arbitrary: caseOf(process, path, payloads.wellFormed(method.input), wellFormed([...roles])) },
        { weight: 3, arbitrary: caseOf(process, path, payloads.of(method.input), hostile) },
      );
    };
    const perProcess = Object.entries(targets.methodsByProcess).map(([process, methods]) =>
      fc.oneof(
        { weight: 20, arbitrary: fc.oneof(...methods.map((method) => callOf(process as ServiceName, method))) },
        {
          weight: 1,
          arbitrary: caseOf(process as ServiceName, strangePath(methods), payloads.of(methods[0]!.input), hostile),
        },
      ),
    );
    this.cases = fc.oneof(...perProcess);
  }

  /** The RPC a case calls, if its path names one the process serves. */
  rpcOf(serviceCase: ServiceCase): string | undefined {
    return this.#methods.has(serviceCase.path) ? serviceCase.path : undefined;
  }

  prepare(serviceCase: ServiceCase, context: SendContext): PreparedCall {
    const method = this.#methods.get(serviceCase.path);
    const streaming = method !== undefined && method.methodKind !== "unary";
    const headers: Array<[string, string]> = [];
    if (serviceCase.contentType !== undefined) headers.push(["content-type", serviceCase.contentType]);
    if (serviceCase.te !== undefined) headers.push(["te", serviceCase.te]);
    if (serviceCase.compression.declared !== undefined)
      headers.push(["grpc-encoding", serviceCase.compression.declared]);
    const auth = authorizationHeader(serviceCase.auth, context.tokens);
    if (auth !== undefined) headers.push(["authorization", auth]);
    // Streams (Health.Watch, WatchOrders) would stay open: a deadline ends them shortly.
    if (streaming && !setsDeadline(serviceCase.extra)) headers.push(["grpc-timeout", "100m"]);
    headers.push(...serviceCase.extra);
    const body = method ? payloadBytes(method.input, serviceCase.payload) : Buffer.from("not a method");
    return {
      call: {
        origin: context.serviceOrigins[serviceCase.process],
        httpVersion: "2",
        method: serviceCase.httpMethod,
        path: serviceCase.path,
        headers,
        body: framedBody(body, serviceCase.framing, serviceCase.compression),
        streaming,
      },
      facts: { clientDeadline: setsDeadline(headers), grpc: true, toService: true },
    };
  }
}

type Dimensions = { [K in Exclude<keyof ServiceCase, "process" | "path" | "payload">]: fc.Arbitrary<ServiceCase[K]> };

/** How a call goes wrong, besides its message: any way at all. */
const hostile: Dimensions = {
  httpMethod: fc.oneof(
    { weight: 20, arbitrary: fc.constant("POST") },
    fc.constantFrom("GET", "PUT", "OPTIONS", "HEAD"),
  ),
  contentType: fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...contentTypes) },
    fc.constantFrom(...oddContentTypes),
    fc.constant(undefined),
  ),
  te: fc.oneof({ weight: 12, arbitrary: fc.constant("trailers") }, fc.constant(undefined)),
  framing,
  compression,
  auth: authorization,
  extra: extraHeaders,
};

/** A call as a correct client makes it, signed in as one of `roles`. */
function wellFormed(roles: Role[]): Dimensions {
  return {
    httpMethod: fc.constant("POST"),
    contentType: fc.constantFrom(...contentTypes),
    te: fc.constant("trailers"),
    framing: fc.constant(oneFrame),
    compression: fc.constant(uncompressed),
    auth: tokenOf(roles),
    extra: fc.constant([]),
  };
}

function caseOf(
  process: ServiceName,
  path: fc.Arbitrary<string>,
  payload: fc.Arbitrary<Payload>,
  dimensions: Dimensions,
): fc.Arbitrary<ServiceCase> {
  return fc.record({ process: fc.constant(process), path, payload, ...dimensions });
}

/** Paths next to the served ones: other methods, other services, no method, junk. */
function strangePath(methods: DescMethod[]): fc.Arbitrary<string> {
  const service = methods[0]!.parent.typeName;
  return fc.oneof(
    fc.constantFrom(
      `/${service}/NoSuchMethod`,
      `/${service}/`,
      `/${service}`,
      "/",
      "/bazaar.nothing.v1.Nothing/Call",
      `/${service}/${methods[0]!.name}/extra`,
      "//",
      "/%00",
    ),
    fc.string({ maxLength: 30 }).map((text) => `/${encodeURIComponent(text.toWellFormed())}`),
  );
}
