// One route as an OpenAPI operation: where each request field travels (path, query or body, by
// the google.api.http transcoding rules) and what comes back.
import type { DescField, DescMessage } from "@bufbuild/protobuf";
import type { HttpRoute } from "../http-routes.ts";
import { jsonPath } from "../http-routes.ts";
import { commentOf, firstSentence } from "./proto-comments.ts";
import { isPlainMessage, isSingleValue, type ComponentSchemas, type JsonObject } from "./schemas.ts";
import { isRequiredField } from "./validate-rules.ts";

export const errorSchemaRef = "#/components/schemas/Error";
export const errorResponseRef = "#/components/responses/Error";

export function operationOf(route: HttpRoute, schemas: ComponentSchemas): JsonObject {
  const { rpc } = route;
  const comment = commentOf(rpc);
  const summary = firstSentence(comment);
  const parameters = [...pathParameters(route, schemas), ...queryParameters(route, schemas)];
  return {
    operationId: `${rpc.parent.name}_${rpc.name}`,
    tags: [rpc.parent.name],
    summary: summary || undefined,
    description: comment !== summary ? comment : undefined,
    deprecated: rpc.deprecated || undefined,
    parameters: parameters.length > 0 ? parameters : undefined,
    requestBody: requestBodyOf(route, schemas),
    responses: { "200": successResponse(route, schemas), default: { $ref: errorResponseRef } },
  };
}

function pathParameters(route: HttpRoute, schemas: ComponentSchemas): JsonObject[] {
  return route.pathFields.map((fields) => parameter(fields, "path", true, schemas));
}

/**
 * Without a body every field not in the path is a query parameter; with body "<field>" every
 * other one is; with body "*" none is. Nested messages flatten to dotted names
 * (`location.latitude`); lists of messages, maps and JSON-valued types (Struct, Any, …) cannot
 * be written in a query and are left out.
 */
function queryParameters(route: HttpRoute, schemas: ComponentSchemas): JsonObject[] {
  if (route.body === "*") return [];
  const inPath = new Set(route.pathFields.map(jsonPath));
  const parameters: JsonObject[] = [];
  const visit = (message: DescMessage, parents: DescField[], seen: ReadonlySet<DescMessage>) => {
    for (const field of message.fields) {
      const fields = [...parents, field];
      if (field === route.body || inPath.has(jsonPath(fields))) continue;
      // A nested field is never required on its own: its parent may be left out entirely.
      const required = parents.length === 0 && isRequiredField(field);
      if (field.fieldKind === "message") {
        if (isSingleValue(field.message)) {
          parameters.push(parameter(fields, "query", required, schemas));
        } else if (isPlainMessage(field.message) && !seen.has(field.message)) {
          // A message that contains itself would flatten forever: its inner copy is left out.
          visit(field.message, fields, new Set([...seen, field.message]));
        }
      } else if (
        field.fieldKind === "scalar" ||
        field.fieldKind === "enum" ||
        (field.fieldKind === "list" && field.listKind !== "message")
      ) {
        parameters.push(parameter(fields, "query", required, schemas));
      }
    }
  };
  visit(route.rpc.input, [], new Set([route.rpc.input]));
  return parameters;
}

function parameter(
  fields: DescField[],
  location: "path" | "query",
  required: boolean,
  schemas: ComponentSchemas,
): JsonObject {
  const { description, deprecated, ...schema } = schemas.fieldSchema(fields.at(-1)!);
  return { name: jsonPath(fields), in: location, required: required || undefined, description, deprecated, schema };
}

function requestBodyOf(route: HttpRoute, schemas: ComponentSchemas): JsonObject | undefined {
  const { body, rpc } = route;
  if (body === undefined) return undefined;
  let schema: JsonObject;
  let required: boolean;
  if (body !== "*") {
    schema = schemas.fieldSchema(body);
    required = isRequiredField(body);
  } else {
    // Fields bound to the path are not read from the body; a nested one (`{product.id}`) is,
    // and the path's value wins.
    const inPath = new Set(route.pathFields.filter((fields) => fields.length === 1).map((fields) => fields[0]!));
    schema = inPath.size > 0 ? schemas.objectSchema(rpc.input, inPath) : schemas.typeSchema(rpc.input);
    required = rpc.input.fields.some((field) => !inPath.has(field) && isRequiredField(field));
  }
  return { required: required || undefined, content: { "application/json": { schema } } };
}

function successResponse(route: HttpRoute, schemas: ComponentSchemas): JsonObject {
  const { rpc } = route;
  const result = schemas.typeSchema(rpc.output);
  if (rpc.methodKind === "server_streaming") {
    return {
      description:
        'A stream of newline-delimited JSON objects: `{"result": …}` for each message. An error after ' +
        'the stream began ends it with `{"error": …}`; one before answers like any other error.',
      content: {
        "application/x-ndjson": {
          schema: {
            type: "object",
            description: "One line of the stream.",
            properties: { result, error: { $ref: errorSchemaRef } },
          },
        },
      },
    };
  }
  return {
    description: commentOf(rpc.output) || rpc.output.typeName,
    content: { "application/json": { schema: result } },
  };
}
