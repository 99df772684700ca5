// The REST answers the OpenAPI document promises (gen/openapi/bazaar.openapi.json, which the edge
// serves byte for byte as /openapi.json), checked as strictly as a generated client reads them:
// JSON Schema 2020-12 (Ajv) with every format asserted (a Kotlin or Java client parses `uuid`,
// `date-time` and `int64` into typed values and fails on anything else), and every object closed
// (`unevaluatedProperties: false`) unless its schema allows more keys on purpose (maps, Struct,
// Any, error details' `debug`), so a property the document does not name is a violation too.
import { readFileSync } from "node:fs";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

type JsonObject = { [key: string]: unknown };

export const openApiDocument: JsonObject = JSON.parse(
  readFileSync(new URL("../../gen/openapi/bazaar.openapi.json", import.meta.url), "utf8"),
);

const httpMethods = ["get", "put", "post", "delete", "patch"] as const;

/** One REST answer as a client received it; `body` is the parsed JSON (undefined when empty). */
export interface ReceivedAnswer {
  method: string;
  /** The request path, with or without its query string. */
  path: string;
  status: number;
  contentType: string | null;
  body: unknown;
}

export interface DocumentedOperation {
  /** The document's path template, e.g. `/v1/products/{id}`. */
  template: string;
  method: (typeof httpMethods)[number];
  operation: JsonObject;
}

/** Every operation of the document. */
export function documentedOperations(): DocumentedOperation[] {
  return Object.entries(openApiDocument.paths as Record<string, JsonObject>).flatMap(([template, item]) =>
    httpMethods
      .filter((method) => item[method])
      .map((method) => ({ template, method, operation: item[method] as JsonObject })),
  );
}

/**
 * The operation a request reaches, matched as the edge's router matches it: a `:verb` after the
 * last segment, literal segments, and `{variables}` of one segment each.
 */
export function operationOf(method: string, path: string): DocumentedOperation | undefined {
  const [bare, verb] = splitVerb(path.split("?")[0]!);
  const parts = bare.split("/");
  return documentedOperations().find((candidate) => {
    if (candidate.method !== method.toLowerCase()) return false;
    const [templateBare, templateVerb] = splitVerb(candidate.template);
    const segments = templateBare.split("/");
    return (
      templateVerb === verb &&
      segments.length === parts.length &&
      segments.every((segment, i) => /^\{[^}]+\}$/.test(segment) || segment === parts[i])
    );
  });
}

function splitVerb(path: string): [string, string | undefined] {
  const colon = path.lastIndexOf(":");
  if (colon === -1 || colon < path.lastIndexOf("/") || path.indexOf("}", colon) !== -1) return [path, undefined];
  return [path.slice(0, colon), path.slice(colon + 1)];
}

/**
 * What is wrong with an answer by the document, one line per violation naming the JSON pointer
 * in the body and the rule it broke (where in the document, which keyword); empty when the
 * answer is as documented. A request outside every operation (an unknown path, a method the
 * path does not take) must be answered with the document's Error.
 */
export function answerViolations(answer: ReceivedAnswer): string[] {
  const documented = operationOf(answer.method, answer.path);
  const found = documented ? responseFor(documented, answer.status) : located("#/components/responses/Error");
  if (found === undefined) return [`status ${answer.status} is not among the operation's responses`];
  const content = found.value.content as Record<string, { schema: JsonObject }> | undefined;
  const mediaType = answer.contentType === null ? null : answer.contentType.split(";")[0]!.trim();
  if (content === undefined) {
    return answer.body === undefined ? [] : [`the response has no content in the document, but a ${mediaType} body`];
  }
  if (mediaType === null || content[mediaType] === undefined) {
    return [`content-type ${mediaType} is not one of the documented ${Object.keys(content).join(", ")}`];
  }
  // A stream's body is checked line by line (lineViolations) as it arrives.
  if (mediaType === "application/x-ndjson") return [];
  return schemaViolations(`${found.pointer}/content/${pointerToken(mediaType)}/schema`, answer.body);
}

/** The violations of one line of a newline-delimited JSON stream (already parsed). */
export function lineViolations(method: string, path: string, line: unknown): string[] {
  const documented = operationOf(method, path);
  const found = documented && responseFor(documented, 200);
  const mediaType = "application/x-ndjson";
  if (!(found?.value.content as JsonObject | undefined)?.[mediaType]) {
    return [`${method} ${path} is not a documented newline-delimited JSON stream`];
  }
  return schemaViolations(`${found!.pointer}/content/${pointerToken(mediaType)}/schema`, line);
}

/** Throws one error listing every violation, prefixed with the request, when there is any. */
export function assertAsDocumented(request: string, violations: string[]): void {
  if (violations.length === 0) return;
  throw new Error(
    `${request}: the answer breaks the OpenAPI document (/openapi.json):\n${violations.map((v) => `  - ${v}`).join("\n")}`,
  );
}

interface Located {
  value: JsonObject;
  /** Where in the document, as a JSON pointer fragment (`#/paths/…`). */
  pointer: string;
}

/** The response the document gives for a status: its own, its class (`4XX`), or the default. */
function responseFor({ template, method, operation }: DocumentedOperation, status: number): Located | undefined {
  const responses = operation.responses as Record<string, JsonObject>;
  const key = [String(status), `${String(status)[0]}XX`, "default"].find((candidate) => responses[candidate]);
  if (key === undefined) return undefined;
  const ref = responses[key]!.$ref;
  return typeof ref === "string"
    ? located(ref)
    : { value: responses[key]!, pointer: `#/paths/${pointerToken(template)}/${method}/responses/${key}` };
}

function located(pointer: string): Located {
  const value = pointer
    .slice(2)
    .split("/")
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<unknown>((node, token) => (node as JsonObject)[token], openApiDocument);
  return { value: value as JsonObject, pointer };
}

function pointerToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

// The whole document as one schema resource, every object closed, so a `$ref` resolves as in
// the document and a failing keyword can be traced back to its place in it.
const documentId = "openapi.json";
const closedDocument = structuredClone(openApiDocument);
/** Each schema object of closedDocument → its JSON pointer, to name where a rule failed. */
const placeOf = new WeakMap<object, string>();
for (const [name, schema] of Object.entries(
  (closedDocument.components as { schemas: Record<string, JsonObject> }).schemas,
))
  closeSchema(schema, `#/components/schemas/${pointerToken(name)}`);
for (const { template, method } of documentedOperations()) {
  const operation = (closedDocument.paths as Record<string, JsonObject>)[template]![method] as JsonObject;
  for (const [key, response] of Object.entries(operation.responses as Record<string, JsonObject>)) {
    for (const [mediaType, media] of Object.entries((response.content ?? {}) as Record<string, JsonObject>)) {
      closeSchema(
        media.schema as JsonObject,
        `#/paths/${pointerToken(template)}/${method}/responses/${key}/content/${pointerToken(mediaType)}/schema`,
      );
    }
  }
}

const ajv = new Ajv2020({ strict: true, allErrors: true, verbose: true });
addFormats.default(ajv);
// The formats of the proto3 JSON mapping that ajv-formats lacks or reads as numbers only:
// 64-bit integers travel as decimal strings.
const decimalIn = (low: bigint, high: bigint) => (text: string) =>
  /^-?(0|[1-9][0-9]*)$/.test(text) && BigInt(text) >= low && BigInt(text) <= high;
ajv.addFormat("int64", { type: "string", validate: decimalIn(-(2n ** 63n), 2n ** 63n - 1n) });
ajv.addFormat("uint64", { type: "string", validate: decimalIn(0n, 2n ** 64n - 1n) });
ajv.addFormat("uint32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= 0 && n < 2 ** 32 });
// The document's members that are not JSON Schema keywords; Ajv compiles only what a $ref reaches.
ajv.addVocabulary(["openapi", "info", "servers", "security", "tags", "paths", "components"]);
ajv.addSchema({ ...closedDocument, $id: documentId });

const validators = new Map<string, ValidateFunction>();

function schemaViolations(pointer: string, value: unknown): string[] {
  let validate = validators.get(pointer);
  if (validate === undefined) {
    validate = ajv.compile({ $ref: `${documentId}${pointer}` });
    validators.set(pointer, validate);
  }
  if (validate(value)) return [];
  return (validate.errors ?? []).map(describe);
}

function describe(error: ErrorObject): string {
  const where = error.instancePath === "" ? "(the body)" : error.instancePath;
  const property =
    error.keyword === "unevaluatedProperties"
      ? ` "${(error.params as { unevaluatedProperty: string }).unevaluatedProperty}"`
      : "";
  const place = placeOf.get(error.parentSchema as object);
  const rule = place === undefined ? error.schemaPath : `${place}/${error.keyword}`;
  return `${where}: ${error.message}${property} [${error.keyword} at ${rule}]`;
}

/**
 * Closes every object schema in `schema` (in place) that does not say itself whether more
 * properties may come, and notes where each schema sits.
 */
function closeSchema(schema: JsonObject, pointer: string): void {
  placeOf.set(schema, pointer);
  const isObject = schema.type === "object" || schema.properties !== undefined;
  const saysItself = ["additionalProperties", "unevaluatedProperties", "patternProperties"].some(
    (key) => key in schema,
  );
  if (isObject && !saysItself) schema.unevaluatedProperties = false;
  for (const key of ["properties", "patternProperties", "$defs", "dependentSchemas"]) {
    for (const [name, member] of Object.entries((schema[key] as Record<string, JsonObject> | undefined) ?? {}))
      closeSchema(member, `${pointer}/${key}/${pointerToken(name)}`);
  }
  for (const key of [
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "contains",
    "not",
    "if",
    "then",
    "else",
  ]) {
    const member = schema[key];
    if (typeof member === "object" && member !== null) closeSchema(member as JsonObject, `${pointer}/${key}`);
  }
  for (const key of ["allOf", "anyOf", "oneOf", "prefixItems"]) {
    for (const [i, member] of ((schema[key] as JsonObject[] | undefined) ?? []).entries())
      closeSchema(member, `${pointer}/${key}/${i}`);
  }
}
