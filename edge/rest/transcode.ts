// REST ⇄ protobuf: a request message from the path variables, the query string and the JSON
// body as the route's annotation maps them (proto3 JSON names, or the proto names, accepted
// everywhere), and a response message as proto3 JSON.
import {
  fromJson,
  toJson,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { RouteMatch } from "./routes.ts";

/** Well-known messages whose JSON form is a string, so a query parameter can carry them. */
const stringLikeMessages = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
  "google.protobuf.StringValue",
  "google.protobuf.Int64Value",
  "google.protobuf.UInt64Value",
  "google.protobuf.Int32Value",
  "google.protobuf.UInt32Value",
  "google.protobuf.DoubleValue",
  "google.protobuf.FloatValue",
]);

const invalid = (message: string) => new ConnectError(message, Code.InvalidArgument);

export function requestFromRest(match: RouteMatch, query: URLSearchParams, body: JsonValue | undefined): Message {
  const { route, pathParams } = match;
  const input = route.rpc.input;
  let json: JsonObject = {};
  if (route.body === "*") {
    if (body !== undefined) {
      if (typeof body !== "object" || body === null || Array.isArray(body))
        throw invalid("the request body must be a JSON object");
      json = body;
    }
    if ([...query.keys()].length > 0) {
      throw invalid(
        `${route.httpMethod.toUpperCase()} ${route.path} takes no query parameters: send every field in the JSON body`,
      );
    }
  } else {
    if (route.body !== undefined && body !== undefined) json[route.body.jsonName] = body;
    // Every field the body does not hold may come from the query.
    for (const [name, value] of query) setQueryParam(input, json, name, value, route.body);
  }
  for (const [fields, value] of pathParams)
    setAt(
      input,
      json,
      fields.map((field) => field.name),
      value,
      "path",
    );
  try {
    return fromJson(input, json);
  } catch (error) {
    throw invalid((error as Error).message);
  }
}

/**
 * The answer in proto3 JSON as Connect JSON writes it: a field at its zero value ("", 0, false,
 * an empty list, the enum's first value) is left out. Written out, an empty id would be `""` where
 * the document promises a `uuid`, which typed clients (UUID fields in Kotlin or Java) fail to parse.
 */
export function responseToJson(schema: DescMessage, message: Message): JsonValue {
  return toJson(schema, message as never);
}

function fieldNamed(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((field) => field.name === name || field.jsonName === name);
}

/** Sets a dotted field path (proto or JSON names) to a string value, converted for its field. */
function setQueryParam(
  input: DescMessage,
  json: JsonObject,
  name: string,
  value: string,
  bodyField: DescField | undefined,
): void {
  const path = name.split(".");
  if (bodyField !== undefined && fieldNamed(input, path[0]!) === bodyField)
    throw invalid(`query parameter "${name}" belongs in the body`);
  setAt(input, json, path, value, "query");
}

function setAt(message: DescMessage, json: JsonObject, path: string[], value: string, from: "path" | "query"): void {
  let current = message;
  let target = json;
  for (let i = 0; i < path.length; i++) {
    const field = fieldNamed(current, path[i]!);
    if (!field) throw invalid(`unknown ${from} parameter "${path.join(".")}"`);
    const last = i === path.length - 1;
    if (!last) {
      if (field.fieldKind !== "message" || stringLikeMessages.has(field.message.typeName)) {
        throw invalid(`unknown ${from} parameter "${path.join(".")}"`);
      }
      const next = target[field.jsonName];
      target = (
        typeof next === "object" && next !== null && !Array.isArray(next) ? next : (target[field.jsonName] = {})
      ) as JsonObject;
      current = field.message;
      continue;
    }
    const converted = scalarFromText(field, value, path.join("."));
    if (field.fieldKind === "list") {
      const list = Array.isArray(target[field.jsonName])
        ? (target[field.jsonName] as JsonValue[])
        : (target[field.jsonName] = []);
      list.push(converted);
    } else {
      target[field.jsonName] = converted;
    }
  }
}

/** A query or path string as the JSON value proto3 JSON expects for the field. */
function scalarFromText(field: DescField, text: string, name: string): JsonValue {
  const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind;
  if (kind === "scalar") {
    const scalar =
      field.fieldKind === "list" ? field.scalar : (field as Extract<DescField, { fieldKind: "scalar" }>).scalar;
    if (scalar === ScalarType.BOOL) {
      if (text === "true" || text === "false") return text === "true";
      throw invalid(`query parameter "${name}" must be true or false`);
    }
    // Numbers stay text: proto3 JSON accepts them quoted, and int64 must not pass through a double.
    return text;
  }
  if (kind === "enum") return text;
  if (kind === "message") {
    const typeName = field.fieldKind === "list" || field.fieldKind === "message" ? field.message?.typeName : undefined;
    if (typeName && stringLikeMessages.has(typeName)) return text;
  }
  throw invalid(`"${name}" cannot be given as a query parameter`);
}
