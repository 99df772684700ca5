// The OpenAPI 3.1 document of the REST API: the routes' operations, the schemas they use, the
// edge's own key set route, the error shape and the bearer scheme. Built in a fixed order (paths
// and schemas sorted, methods in one order) because CI compares the generated file byte for byte.
import { Code } from "@connectrpc/connect";
import { codeToHttpStatus, codeToString } from "@connectrpc/connect/protocol-connect";
import type { DescService } from "@bufbuild/protobuf";
import { errorReasons } from "../../services/kit/error-reasons.ts";
import type { HttpMethod, HttpRoute } from "../http-routes.ts";
import { edgeOperations } from "./edge-operations.ts";
import { errorSchemaRef, operationOf } from "./operations.ts";
import { commentOf } from "./proto-comments.ts";
import { ComponentSchemas, type JsonObject } from "./schemas.ts";

const info = {
  title: "Bazaar API",
  version: "v1",
  description: [
    "The REST face of Bazaar's public services, transcoded by the edge from their gRPC methods " +
      "(the same methods also answer over Connect, gRPC-Web and gRPC).\n",
    "- Bodies, parameters and responses use the proto3 JSON mapping: lowerCamelCase names, 64-bit " +
      "integers as strings, enums by value name, timestamps in RFC 3339, field masks as " +
      "comma-separated lowerCamelCase paths.",
    '- Answers leave out fields at their zero value (`""`, `0`, `false`, `[]`, an enum\'s ' +
      "`…_UNSPECIFIED`): a missing field has that value, e.g. a category without `parentId` is " +
      "top-level.",
    "- Sign in with `POST /v1/auth/login` and send its access token as `Authorization: Bearer <token>`; " +
      "operations open to anyone ignore it.",
    '- Errors answer `{"code", "message", "details"}` with the HTTP status of their code; an error a client ' +
      'can act on also has a `"reason"` (see the `Error` response for the list).',
  ].join("\n"),
};

const methodOrder: readonly HttpMethod[] = ["get", "put", "post", "delete", "patch"];

export function openApiDocument(routes: HttpRoute[]): JsonObject {
  const schemas = new ComponentSchemas();
  const paths: Record<string, Record<string, JsonObject>> = {};
  const sorted = routes.toSorted(
    (a, b) => compare(a.path, b.path) || methodOrder.indexOf(a.httpMethod) - methodOrder.indexOf(b.httpMethod),
  );
  for (const route of sorted) {
    const item = (paths[route.path] ??= {});
    if (item[route.httpMethod]) {
      throw new Error(
        `${route.httpMethod.toUpperCase()} ${route.path} is bound twice (again by ${route.rpc.parent.typeName}.${route.rpc.name})`,
      );
    }
    item[route.httpMethod] = operationOf(route, schemas);
  }
  const edge = edgeOperations();
  for (const [path, item] of Object.entries(edge.paths)) {
    if (paths[path]) throw new Error(`${path} is served by the edge itself and cannot be a route too`);
    paths[path] = item;
  }
  const services = [...new Set(routes.map((route) => route.rpc.parent))].sort((a, b) => compare(a.name, b.name));
  return {
    openapi: "3.1.0",
    info,
    servers: [{ url: "/" }],
    // Both alternatives: the operations open to anyone take no token, the others need one.
    security: [{}, { bearer: [] }],
    tags: services.map(tagOf),
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => compare(a, b))),
    components: {
      schemas: { ...schemas.toRecord(), ...edge.schemas, ...errorSchemas() },
      responses: { Error: errorResponse() },
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "The access token of `POST /v1/auth/login`, `/v1/auth/register` or `/v1/auth/refresh`.",
        },
      },
    },
  };
}

function tagOf(service: DescService): JsonObject {
  return { name: service.name, description: commentOf(service) || undefined };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every Connect code, ordered by number. */
const codes = Object.values(Code).filter((code): code is Code => typeof code === "number");

/** The Connect JSON error the edge answers REST calls with (see edge/errors.ts). */
function errorSchemas(): Record<string, JsonObject> {
  return {
    Error: {
      type: "object",
      description: "An error, as the Connect protocol writes it in JSON.",
      properties: {
        code: { type: "string", enum: codes.map(codeToString), description: "The error code, in snake_case." },
        message: { type: "string", description: "What went wrong, for developers." },
        details: { type: "array", items: { $ref: "#/components/schemas/ErrorDetail" } },
        reason: {
          type: "string",
          description:
            "Why, as a stable name to branch on: the reason of the `google.rpc.ErrorInfo` detail (domain " +
            "`bazaar`), whose `metadata` holds the specifics. Absent when the error has none. Clients should " +
            "treat an unknown reason like its code.",
        },
      },
      required: ["code"],
    },
    ErrorDetail: {
      type: "object",
      description:
        "A protobuf message with more about the error: `google.rpc.ErrorInfo` (`debug`: `{reason, domain, " +
        "metadata}`), `google.rpc.RetryInfo`, `google.rpc.PreconditionFailure` or `buf.validate.Violations`.",
      properties: {
        type: { type: "string", description: "The message's full name." },
        value: {
          type: "string",
          contentEncoding: "base64",
          description: "The message in the binary format, base64 without padding.",
        },
        debug: {
          type: "object",
          additionalProperties: true,
          description: "The message in proto3 JSON, for the types the edge knows.",
        },
      },
      required: ["type", "value"],
    },
  };
}

function errorResponse(): JsonObject {
  const statuses = codes.map((code) => `| \`${codeToString(code)}\` | ${codeToHttpStatus(code)} |`);
  const anyRpc = Object.entries(errorReasons).flatMap(([reason, spec]) => ("anyRpc" in spec ? [`\`${reason}\``] : []));
  const reasons = Object.entries(errorReasons).map(
    ([reason, spec]) =>
      `| \`${reason}\` | \`${codeToString(spec.code)}\` | ${spec.metadata.map((key) => `\`${key}\``).join(", ")} | ${spec.meaning} |`,
  );
  return {
    description: [
      "An error. Its HTTP status follows from its code:",
      "",
      "| code | status |",
      "| --- | --- |",
      ...statuses,
      "",
      "Errors a client can act on also carry a `reason` (and a `google.rpc.ErrorInfo` detail with its metadata). " +
        `Each operation's description names the reasons it may answer; any operation may also answer ${anyRpc.join(", ")}.`,
      "",
      "| reason | code | metadata | meaning |",
      "| --- | --- | --- | --- |",
      ...reasons,
    ].join("\n"),
    headers: {
      "Retry-After": {
        description: "With `resource_exhausted` (429): seconds to wait before trying again.",
        schema: { type: "integer", minimum: 0 },
      },
    },
    content: { "application/json": { schema: { $ref: errorSchemaRef } } },
  };
}
