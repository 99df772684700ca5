// Requests to the edge over every protocol it speaks — Connect unary (POST and GET), Connect
// streaming, gRPC-Web (binary and text), gRPC, the REST routes — plus requests no client library
// would make: other methods, paths and content types. Every public RPC and REST route comes
// from the descriptors; bodies, headers, framing and compression are generated.
import fc from "fast-check";
import type { DescField, DescMessage, DescMethod } from "@bufbuild/protobuf";
import type { HttpRoute } from "../../edge/http-routes.ts";
import {
  compressed,
  compression,
  framedBody,
  framing,
  oneFrame,
  uncompressed,
  type Compression,
  type Framing,
} from "./framing.ts";
import {
  authorization,
  authorizationHeader,
  extraHeaders,
  setsDeadline,
  tokenOf,
  type Authorization,
  type ExtraHeaders,
} from "./headers.ts";
import { jsonBody, jsonBodyBytes, docOf, type JsonBody } from "./json-doc.ts";
import { binaryBodyBytes, type BinaryBody } from "./message-binary.ts";
import type { KnownValues } from "./message-json.ts";
import { payloadBytes, type Payload, type Payloads } from "./payloads.ts";
import { rpcPath, type PreparedCall, type SendContext } from "./prepared-call.ts";
import type { FuzzTargets } from "./targets.ts";

interface Common {
  httpVersion: "1.1" | "2";
  auth: Authorization;
  extra: ExtraHeaders;
}

export type EdgeCase =
  | ({
      kind: "connectUnary";
      rpc: string;
      payload: Payload;
      contentType: string | undefined;
      compression: Compression;
    } & Common)
  | ({ kind: "connectGet"; rpc: string; payload: Payload; base64: boolean; query: Array<[string, string]> } & Common)
  | ({ kind: "connectStream"; rpc: string; payload: Payload; framing: Framing; compression: Compression } & Common)
  | ({
      kind: "grpcWeb";
      rpc: string;
      proto: BinaryBody;
      text: boolean;
      framing: Framing;
      compression: Compression;
    } & Common)
  | ({ kind: "grpc"; rpc: string; payload: Payload; framing: Framing; compression: Compression } & Common)
  | ({
      kind: "rest";
      route: number;
      httpMethod: string | undefined;
      pathValues: string[];
      query: Array<[string, string]>;
      body: JsonBody | undefined;
      contentType: string | undefined;
    } & Common)
  | ({ kind: "random"; method: string; path: string; contentType: string | undefined; body: Buffer } & Common);

/** A deadline for streaming calls, so an open stream ends on its own shortly after the read window. */
const streamDeadline = { connect: ["connect-timeout-ms", "200"], grpc: ["grpc-timeout", "200m"] } as const;

const httpVersion = fc.constantFrom("1.1" as const, "2" as const);
const common = { httpVersion, auth: authorization, extra: extraHeaders };

const jsonContentTypes = [
  "application/json; charset=utf-8",
  "application/json;charset=latin1",
  "APPLICATION/JSON",
  "application/json+x",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "",
  "application/proto",
];

export class EdgeFuzz {
  readonly cases: fc.Arbitrary<EdgeCase>;
  readonly #methods: Map<string, DescMethod>;
  readonly #routes: HttpRoute[];

  constructor(targets: FuzzTargets, payloads: Payloads, known: KnownValues) {
    this.#methods = new Map(targets.publicMethods.map((method) => [rpcPath(method), method]));
    this.#routes = targets.restRoutes;
    const rpcCases = targets.publicMethods.map((method) => rpcCasesOf(method, payloads));
    const restCases = targets.restRoutes.map((route, index) => restCaseOf(route, index, payloads, known));
    this.cases = fc.oneof(
      { weight: 7, arbitrary: fc.oneof(...rpcCases) },
      { weight: 3, arbitrary: fc.oneof(...restCases) },
      { weight: 1, arbitrary: randomCase(targets) },
    );
  }

  prepare(edgeCase: EdgeCase, context: SendContext): PreparedCall {
    const headers: Array<[string, string]> = [];
    const auth = authorizationHeader(edgeCase.auth, context.tokens);
    if (auth !== undefined) headers.push(["authorization", auth]);
    const finish = (call: Omit<PreparedCall["call"], "origin" | "httpVersion">, grpc = false): PreparedCall => {
      const all = [...call.headers, ...headers, ...edgeCase.extra];
      return {
        call: {
          ...call,
          headers: all,
          origin: context.edgeOrigin,
          httpVersion: edgeCase.kind === "grpc" ? "2" : edgeCase.httpVersion,
        },
        facts: { clientDeadline: setsDeadline(all), grpc, toService: false },
      };
    };
    if (edgeCase.kind === "random") {
      const contentType: Array<[string, string]> =
        edgeCase.contentType === undefined ? [] : [["content-type", edgeCase.contentType]];
      return finish({
        method: edgeCase.method,
        path: edgeCase.path,
        headers: contentType,
        body: edgeCase.body,
        streaming: false,
      });
    }
    if (edgeCase.kind === "rest") return finish(this.#restCall(edgeCase));
    const method = this.#methods.get(edgeCase.rpc)!;
    const streaming = method.methodKind !== "unary";
    const deadline = (kind: keyof typeof streamDeadline): Array<[string, string]> =>
      streaming ? [[...streamDeadline[kind]]] : [];
    switch (edgeCase.kind) {
      case "connectUnary": {
        const canonical = edgeCase.payload.encoding === "json" ? "application/json" : "application/proto";
        const encoding: Array<[string, string]> =
          edgeCase.compression.declared === undefined ? [] : [["content-encoding", edgeCase.compression.declared]];
        return finish({
          method: "POST",
          path: edgeCase.rpc,
          headers: [
            ["content-type", edgeCase.contentType ?? canonical],
            ["connect-protocol-version", "1"],
            ...encoding,
          ],
          body: compressed(payloadBytes(method.input, edgeCase.payload), edgeCase.compression.applied),
          streaming,
        });
      }
      case "connectGet": {
        const bytes = payloadBytes(method.input, edgeCase.payload);
        const message = edgeCase.base64 ? bytes.toString("base64url") : percentEncodeBytes(bytes);
        const query = [
          `connect=v1`,
          `encoding=${edgeCase.payload.encoding}`,
          `message=${message}`,
          ...(edgeCase.base64 ? ["base64=1"] : []),
        ];
        for (const [name, value] of edgeCase.query) query.push(`${name}=${value}`);
        return finish({
          method: "GET",
          path: `${edgeCase.rpc}?${query.join("&")}`,
          headers: [],
          body: Buffer.alloc(0),
          streaming,
        });
      }
      case "connectStream": {
        const encoding: Array<[string, string]> =
          edgeCase.compression.declared === undefined
            ? []
            : [["connect-content-encoding", edgeCase.compression.declared]];
        return finish({
          method: "POST",
          path: edgeCase.rpc,
          headers: [
            ["content-type", `application/connect+${edgeCase.payload.encoding}`],
            ["connect-protocol-version", "1"],
            ...encoding,
            ...deadline("connect"),
          ],
          body: framedBody(payloadBytes(method.input, edgeCase.payload), edgeCase.framing, edgeCase.compression),
          streaming,
        });
      }
      case "grpcWeb": {
        const frames = framedBody(
          binaryBodyBytes(method.input, edgeCase.proto),
          edgeCase.framing,
          edgeCase.compression,
        );
        const encoding: Array<[string, string]> =
          edgeCase.compression.declared === undefined ? [] : [["grpc-encoding", edgeCase.compression.declared]];
        return finish(
          {
            method: "POST",
            path: edgeCase.rpc,
            headers: [
              ["content-type", edgeCase.text ? "application/grpc-web-text+proto" : "application/grpc-web+proto"],
              ["x-grpc-web", "1"],
              ...encoding,
              ...deadline("grpc"),
            ],
            body: edgeCase.text ? Buffer.from(frames.toString("base64")) : frames,
            streaming,
          },
          true,
        );
      }
      case "grpc": {
        const encoding: Array<[string, string]> =
          edgeCase.compression.declared === undefined ? [] : [["grpc-encoding", edgeCase.compression.declared]];
        return finish(
          {
            method: "POST",
            path: edgeCase.rpc,
            headers: [
              ["content-type", edgeCase.payload.encoding === "json" ? "application/grpc+json" : "application/grpc"],
              ["te", "trailers"],
              ...encoding,
              ...deadline("grpc"),
            ],
            body: framedBody(payloadBytes(method.input, edgeCase.payload), edgeCase.framing, edgeCase.compression),
            streaming,
          },
          true,
        );
      }
    }
  }

  /** The RPC a case calls, if it calls one. */
  rpcOf(edgeCase: EdgeCase): string | undefined {
    if (edgeCase.kind === "random") return undefined;
    return edgeCase.kind === "rest" ? rpcPath(this.#routes[edgeCase.route]!.rpc) : edgeCase.rpc;
  }

  #restCall(restCase: Extract<EdgeCase, { kind: "rest" }>): Omit<PreparedCall["call"], "origin" | "httpVersion"> {
    const route = this.#routes[restCase.route]!;
    let variable = 0;
    const path = route.path.replace(/\{[^}]+\}/g, () => restCase.pathValues[variable++] ?? "");
    const query = restCase.query.map(([name, value]) => `${name}=${value}`).join("&");
    const body = restCase.body === undefined ? Buffer.alloc(0) : jsonBodyBytes(restCase.body);
    const contentType = restCase.contentType ?? (restCase.body === undefined ? undefined : "application/json");
    return {
      method: restCase.httpMethod ?? route.httpMethod.toUpperCase(),
      path: query ? `${path}?${query}` : path,
      headers: contentType === undefined ? [] : [["content-type", contentType]],
      body,
      streaming: route.rpc.methodKind === "server_streaming",
    };
  }
}

/** How a call goes wrong besides its message: any way at all, or not at all. */
interface CallShape {
  common: {
    httpVersion: fc.Arbitrary<Common["httpVersion"]>;
    auth: fc.Arbitrary<Authorization>;
    extra: fc.Arbitrary<ExtraHeaders>;
  };
  contentType: fc.Arbitrary<string | undefined>;
  compression: fc.Arbitrary<Compression>;
  framing: fc.Arbitrary<Framing>;
  getQuery: fc.Arbitrary<Array<[string, string]>>;
}

const hostile: CallShape = {
  common,
  contentType: fc.option(fc.constantFrom(...jsonContentTypes), { freq: 8, nil: undefined }),
  compression,
  framing,
  getQuery: getQueryExtras(),
};

/** A call as a correct client makes it: anonymous or signed in as a user. */
const wellFormed: CallShape = {
  common: {
    httpVersion,
    auth: fc.oneof(fc.constant({ kind: "none" as const }), tokenOf(["customer", "seller", "admin"])),
    extra: fc.constant([]),
  },
  contentType: fc.constant(undefined),
  compression: fc.constant(uncompressed),
  framing: fc.constant(oneFrame),
  getQuery: fc.constant<Array<[string, string]>>([]),
};

/**
 * Calls of one RPC over every protocol; some well-formed, so generated messages reach the
 * handler and the database, the rest going wrong in any way.
 */
function rpcCasesOf(method: DescMethod, payloads: Payloads): fc.Arbitrary<EdgeCase> {
  return fc.oneof(
    {
      weight: 2,
      arbitrary: protocolCases(
        method,
        payloads.wellFormed(method.input),
        payloads.wellFormedProto(method.input),
        wellFormed,
      ),
    },
    { weight: 3, arbitrary: protocolCases(method, payloads.of(method.input), payloads.proto(method.input), hostile) },
  );
}

function protocolCases(
  method: DescMethod,
  payload: fc.Arbitrary<Payload>,
  proto: fc.Arbitrary<BinaryBody>,
  shape: CallShape,
): fc.Arbitrary<EdgeCase> {
  const rpc = fc.constant(rpcPath(method));
  const { common, compression, framing } = shape;
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant("connectUnary" as const),
        rpc,
        payload,
        contentType: shape.contentType,
        compression,
        ...common,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("connectGet" as const),
        rpc,
        payload,
        base64: fc.boolean(),
        query: shape.getQuery,
        ...common,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("connectStream" as const),
        rpc,
        payload,
        framing,
        compression,
        ...common,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("grpcWeb" as const),
        rpc,
        proto,
        text: fc.boolean(),
        framing,
        compression,
        ...common,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant("grpc" as const), rpc, payload, framing, compression, ...common }),
    },
  );
}

/** Connect GET parameters besides the message: repeated, unknown or out of their grammar. */
function getQueryExtras(): fc.Arbitrary<Array<[string, string]>> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant<Array<[string, string]>>([]) },
    fc.array(
      fc.oneof(
        fc.constantFrom<[string, string]>(
          ["compression", "gzip"],
          ["compression", "br"],
          ["connect", "v2"],
          ["encoding", "xml"],
          ["base64", "2"],
          ["message", ""],
          ["message", "%zz"],
        ),
        fc.tuple(fc.string({ maxLength: 8 }).map(encodePart), fc.string({ maxLength: 16 }).map(encodePart)),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  );
}

const awkwardSegments = [
  "%",
  "%zz",
  "%c3%28",
  "%ff",
  "..",
  "%2e%2e",
  "%2F",
  "a%00b",
  ".",
  "~",
  "%20",
  "x".repeat(5_000),
  "%F0%9F%98%80",
  "null",
  "-1",
  "0",
  "__proto__",
];

function restCaseOf(route: HttpRoute, index: number, payloads: Payloads, known: KnownValues): fc.Arbitrary<EdgeCase> {
  const ids = known.ids.length > 0 ? [fc.constantFrom(...known.ids)] : [];
  const pathValue = fc.oneof(
    { weight: 3, arbitrary: fc.oneof(fc.uuid(), ...ids) },
    fc.string({ maxLength: 20 }).map(encodePart),
    fc.string({ unit: "grapheme", maxLength: 10 }).map(encodePart),
    fc.constantFrom(...awkwardSegments),
  );
  const input = route.rpc.input;
  const queryValue = fc.oneof(
    fc.constantFrom(
      "true",
      "false",
      "1",
      "-1",
      "0",
      "1e999",
      "NaN",
      "9223372036854775808",
      "",
      "%zz",
      "%00",
      "PRICE_ASC",
      "99",
    ),
    fc.oneof(fc.uuid(), ...ids),
    fc.string({ maxLength: 24 }).map(encodePart),
  );
  const queryName = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...queryNames(input)) },
    fc.constantFrom("__proto__", "constructor.prototype", "a.b.c.d", "", "%zz", "toString", "page_size.x"),
    fc.string({ maxLength: 10 }).map(encodePart),
  );
  const bodyMessage = route.body === "*" ? input : route.body?.fieldKind === "message" ? route.body.message : undefined;
  const body: fc.Arbitrary<JsonBody | undefined> = bodyMessage
    ? fc.option(payloads.json(bodyMessage), { freq: 8, nil: undefined })
    : fc.option(jsonBody(fc.jsonValue({ maxDepth: 2 }).map((value) => docOf(value as never))), {
        freq: 2,
        nil: undefined,
      });
  const hostileCall = fc.record({
    kind: fc.constant("rest" as const),
    route: fc.constant(index),
    httpMethod: fc.option(fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"), {
      freq: 8,
      nil: undefined,
    }),
    pathValues: fc.array(pathValue, { minLength: route.pathFields.length, maxLength: route.pathFields.length }),
    query: fc.array(fc.tuple(queryName, queryValue), { maxLength: 4 }),
    body,
    contentType: fc.option(fc.constantFrom(...jsonContentTypes), { freq: 8, nil: undefined }),
    ...common,
  });
  // As a correct client calls the route: ids in the path, the body the annotation asks for.
  const wellFormedCall = fc.record({
    kind: fc.constant("rest" as const),
    route: fc.constant(index),
    httpMethod: fc.constant(undefined),
    pathValues: fc.array(fc.oneof(fc.uuid(), ...ids), {
      minLength: route.pathFields.length,
      maxLength: route.pathFields.length,
    }),
    query: fc.constant<Array<[string, string]>>([]),
    body: bodyMessage ? payloads.wellFormedJson(bodyMessage) : fc.constant(undefined),
    contentType: fc.constant(undefined),
    ...wellFormed.common,
  });
  return fc.oneof({ weight: 2, arbitrary: wellFormedCall }, { weight: 3, arbitrary: hostileCall });
}

/** Query parameter names a REST route may take: fields by JSON and proto name, nested ones dotted. */
function queryNames(message: DescMessage): string[] {
  const names = (fields: readonly DescField[], prefix: string[], depth: number): string[] =>
    fields.flatMap((field) => {
      const own = [[...prefix, field.jsonName].join("."), [...prefix, field.name].join(".")];
      const nested =
        field.fieldKind === "message" && depth < 2
          ? names(field.message.fields, [...prefix, field.jsonName], depth + 1)
          : [];
      return [...own, ...nested];
    });
  const all = [...new Set(names(message.fields, [], 0))];
  return all.length > 0 ? all : ["x"];
}

function randomCase(targets: FuzzTargets): fc.Arbitrary<EdgeCase> {
  const segment = fc.oneof(
    fc.constantFrom(
      "v1",
      "products",
      "cart",
      "orders",
      "auth",
      "me",
      "docs",
      "openapi.json",
      ".well-known",
      "jwks.json",
      "healthz",
      "readyz",
      "storefront",
      "bazaar.product.v1.ProductService",
      "bazaar.product.v1.InventoryService",
      "grpc.health.v1.Health",
      "GetProduct",
      "Check",
      "..",
      "%2e%2e",
      "%00",
      "",
      "%zz",
      "index.html",
      "a".repeat(3_000),
    ),
    fc.constantFrom(...targets.publicMethods.map((method) => rpcPath(method).slice(1))),
    fc.string({ maxLength: 12 }).map(encodePart),
  );
  const path = fc
    .tuple(
      fc.array(segment, { minLength: 1, maxLength: 5 }),
      fc.option(fc.string({ maxLength: 30 }).map(encodePart), { nil: undefined }),
    )
    .map(([segments, query]) => `/${segments.join("/")}${query === undefined ? "" : `?${query}`}`);
  return fc.record({
    kind: fc.constant("random" as const),
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "FOO"),
    path,
    contentType: fc.option(
      fc.constantFrom(
        "application/json",
        "application/proto",
        "application/connect+json",
        "application/grpc",
        "application/grpc-web+proto",
        "application/grpc-web-text",
        "text/plain",
        "application/xml",
        "x/y",
      ),
      { nil: undefined },
    ),
    body: fc.oneof(
      fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
      fc.jsonValue({ maxDepth: 2 }).map((value) => Buffer.from(JSON.stringify(value) ?? "")),
    ),
    ...common,
  });
}

/** Percent-encodes text for a URL; lone surrogates become U+FFFD first, as a browser would. */
function encodePart(text: string): string {
  return encodeURIComponent(text.toWellFormed());
}

/** Every byte as %XX: bytes that are not UTF-8 reach the server as sent. */
function percentEncodeBytes(bytes: Buffer): string {
  let out = "";
  for (const byte of bytes) out += `%${byte.toString(16).padStart(2, "0")}`;
  return out;
}
